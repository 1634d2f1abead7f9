// Whole-or-nothing output: the engine writes into temporary names in the target
// directory (same file system, so rename() is atomic), we check and sync the result, then
// rename the weight file and the header into place.
#include "TMVA/WriteGenerated_PyTorch.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace SOFIE {
namespace PyTorch {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void Fail(const std::string &message)
{
   throw ParseError("OutputError", message);
}

/// The engine's own extensions for weight files, by weight-file type.
const char *const kWeightExtensions[] = {".dat", ".safetensors"};

/// Where the weights go for a header path: the ".hxx" suffix replaced, else appended
/// (OutputGenerated's rule, applied to the file name only).
std::string WeightPath(const fs::path &header, const std::string &extension)
{
   std::string name = header.filename().string();
   const std::string suffix = ".hxx";
   if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      name.resize(name.size() - suffix.size());
   return (header.parent_path() / (name + extension)).string();
}

bool Exists(const std::string &path)
{
   struct stat st {};
   return ::lstat(path.c_str(), &st) == 0;
}

/// Flush a written file to disk: a rename must never publish data still in the cache.
void Sync(const std::string &path)
{
   const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
   if (fd < 0 || ::fsync(fd) != 0) {
      const int error = errno;
      if (fd >= 0)
         ::close(fd);
      Fail("could not write " + path + " (" + std::strerror(error) + ")");
   }
   ::close(fd);
}

/// Temporary files that are removed unless released.
class Scratch {
public:
   std::vector<std::string> files;
   ~Scratch()
   {
      for (const auto &f : files)
         ::unlink(f.c_str());
   }
};

} // namespace

std::vector<std::string> WriteGenerated(RModel &model, const std::string &header)
{
   const std::string code = model.ReturnGenerated();
   if (code.empty())
      Fail("the model has no generated code yet: call model.Generate() before WriteGenerated");
   if (header.empty())
      Fail("empty output file name: give the path of the header to write, e.g. model.hxx");
   if (header.find('\0') != std::string::npos)
      Fail("the output file name contains a NUL character");
   const fs::path target(header);
   const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
   struct stat st {};
   if (::stat(dir.c_str(), &st) != 0) {
      const int error = errno;
      Fail(dir.string() + ": cannot write the generated code there (" + std::strerror(error) +
           "); create the directory first or choose another one");
   }
   if (!S_ISDIR(st.st_mode))
      Fail(dir.string() + " is not a directory; cannot write " + header + " there");
   if (fs::is_directory(target))
      Fail(header + " is a directory; give the path of the header file to write");

   // The engine names the weight file by replacing the first ".hxx" anywhere in the path
   // it is given, directories included; it must only ever append its extension.
   if (dir.string().find(".hxx") != std::string::npos)
      Fail(dir.string() + ": a directory whose name contains \".hxx\" would receive the weight "
                          "file under a mangled name (RModel::OutputGenerated's rule); choose another directory");
   // mkstemp reserves a unique name and proves the directory writable. No ".hxx" in it,
   // so that the engine appends its weight extension to the whole name.
   std::string tmpl = (dir / ".sofie-pytorch-tmp-XXXXXX").string();
   const int fd = ::mkstemp(tmpl.data());
   if (fd < 0) {
      const int error = errno;
      Fail(dir.string() + ": cannot write the generated code there (" + std::strerror(error) +
           "); choose a writable directory");
   }
   ::close(fd);
   Scratch scratch;
   scratch.files.push_back(tmpl);
   for (const char *ext : kWeightExtensions)
      scratch.files.push_back(tmpl + ext);

   try {
      model.OutputGenerated(tmpl);
   } catch (const std::exception &e) {
      Fail("could not write the generated code into " + dir.string() + ": " + e.what());
   }
   struct stat written {};
   if (::stat(tmpl.c_str(), &written) != 0 || static_cast<size_t>(written.st_size) != code.size())
      Fail("could not write " + header + " completely (disk full?)");
   Sync(tmpl);

   std::vector<std::string> done{header};
   std::string weightsTmp, weightsFinal;
   for (const char *ext : kWeightExtensions) {
      if (Exists(tmpl + ext)) {
         weightsTmp = tmpl + ext;
         weightsFinal = WeightPath(target, ext);
         Sync(weightsTmp);
         if (fs::is_directory(weightsFinal))
            Fail(weightsFinal + " is a directory; the weight file cannot be written");
      }
   }
   // Weights first: once the new header is visible, its weights are already in place.
   if (!weightsTmp.empty()) {
      if (::rename(weightsTmp.c_str(), weightsFinal.c_str()) != 0) {
         const int error = errno;
         Fail("could not move the weight file to " + weightsFinal + " (" + std::strerror(error) + ")");
      }
      done.push_back(weightsFinal);
   }
   if (::rename(tmpl.c_str(), header.c_str()) != 0) {
      const int error = errno;
      Fail("could not move the header to " + header + " (" + std::strerror(error) + ")");
   }
   return done;
}

} // namespace PyTorch
} // namespace SOFIE
