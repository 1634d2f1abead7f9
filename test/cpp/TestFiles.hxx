// Scratch files for the C++ tests: a private temporary directory removed at the end.
#ifndef SOFIE_PYTORCH_TEST_TESTFILES_HXX
#define SOFIE_PYTORCH_TEST_TESTFILES_HXX

#include "TMVA/RModelParser_PyTorch.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace sofie_pytorch_test {

const std::string kModels = SOFIE_PYTORCH_TEST_MODELS;

class ScratchDir {
public:
   ScratchDir()
   {
      std::string tmpl = (std::filesystem::temp_directory_path() / "sofie_pytorch_test_XXXXXX").string();
      if (!::mkdtemp(tmpl.data()))
         throw std::runtime_error("mkdtemp failed");
      fPath = tmpl;
   }
   ~ScratchDir()
   {
      std::error_code ignored;
      std::filesystem::remove_all(fPath, ignored);
   }
   std::string operator/(const std::string &name) const { return (fPath / name).string(); }
   const std::filesystem::path &path() const { return fPath; }

private:
   std::filesystem::path fPath;
};

inline std::string ReadFile(const std::string &path)
{
   std::ifstream in(path, std::ios::binary);
   return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void WriteFile(const std::string &path, const std::string &content)
{
   std::ofstream(path, std::ios::binary) << content;
}

/// The ParseError thrown by f; fails the test if there is none.
template <typename F>
SOFIE::PyTorch::ParseError Caught(F &&f)
{
   try {
      f();
   } catch (const SOFIE::PyTorch::ParseError &e) {
      return e;
   }
   ADD_FAILURE() << "no ParseError thrown";
   return SOFIE::PyTorch::ParseError("", "");
}

inline bool Contains(const std::string &text, const std::string &part)
{
   return text.find(part) != std::string::npos;
}

} // namespace sofie_pytorch_test

#endif
