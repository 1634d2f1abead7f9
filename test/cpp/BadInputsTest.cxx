// The bad-input battery from C++, where the path differs from PyROOT's: the file name is
// a byte string (decoded like os.fsdecode), shapes are size_t, dtypes ETensorType. Every
// case checks kind() and an actionable message, then that the next Parse still works.
#include "TestFiles.hxx"

#include "TMVA/RModelParser_PyTorch.h"
#include "TMVA/WriteGenerated_PyTorch.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace {

using namespace sofie_pytorch_test;
namespace PT = TMVA::Experimental::SOFIE::PyTorch;
using SOFIE::ETensorType;

const std::string kSelu = kModels + "/sequential_selu.pt";

class BadInput : public ::testing::Test {
protected:
   ScratchDir dir;
   // After every case, failed or not, a valid Parse in the same process succeeds.
   void TearDown() override
   {
      auto model = PT::Parse(kSelu, {{2, 4}});
      EXPECT_EQ(model.GetTensorShape("input"), (std::vector<size_t>{2, 4}));
   }
};

#define EXPECT_PARSE_ERROR(call, kindName, part)                                  \
   do {                                                                          \
      const auto e = Caught([&] { call; });                                      \
      EXPECT_EQ(e.kind(), kindName) << e.what();                                 \
      EXPECT_TRUE(Contains(e.what(), part)) << "missing '" << part << "' in: " << e.what(); \
   } while (0)

TEST_F(BadInput, Directory)
{
   EXPECT_PARSE_ERROR(PT::Parse(dir.path().string(), {{2, 4}}), "ModelLoadError", "is a directory");
}

TEST_F(BadInput, EmptyFile)
{
   WriteFile(dir / "empty.pt", "");
   EXPECT_PARSE_ERROR(PT::Parse(dir / "empty.pt", {{2, 4}}), "ModelLoadError", "torch.jit.save");
}

TEST_F(BadInput, RandomBytes)
{
   std::mt19937 rng(7);
   std::string noise(4096, '\0');
   for (auto &c : noise)
      c = static_cast<char>(rng());
   WriteFile(dir / "noise.pt", noise);
   EXPECT_PARSE_ERROR(PT::Parse(dir / "noise.pt", {{2, 4}}), "ModelLoadError", "not a PyTorch model file");
}

TEST_F(BadInput, TruncatedTorchScript)
{
   const std::string data = ReadFile(kSelu);
   WriteFile(dir / "truncated.pt", data.substr(0, data.size() / 2));
   EXPECT_PARSE_ERROR(PT::Parse(dir / "truncated.pt", {{2, 4}}), "ModelLoadError", "truncated or corrupted");
}

TEST_F(BadInput, MaliciousPickleNeverRuns)
{
   // A protocol-0 pickle calling os.system: it must be refused, never unpickled.
   const std::string sentinel = dir / "SENTINEL";
   WriteFile(dir / "evil.pt", "cos\nsystem\n(S'touch " + sentinel + "'\ntR.");
   EXPECT_PARSE_ERROR(PT::Parse(dir / "evil.pt", {{2, 4}}), "ModelLoadError", "not a PyTorch model file");
   EXPECT_FALSE(std::filesystem::exists(sentinel));
}

TEST_F(BadInput, HostileAndUnusualNamesJustWork)
{
   const std::string model = ReadFile(kSelu);
   for (const std::string name :
        {"quote'single.pt", "quote\"double.pt", "back\\slash.pt", "new\nline.pt",
         "a'); import os; os.system('touch PWNED') #.pt", "with spaces.pt", "mod\xc3\xa8le.pt",
         "not-utf8-\xff\xfe.pt"}) {
      WriteFile(dir / name, model);
      auto parsed = PT::Parse(dir / name, {{2, 4}});
      EXPECT_EQ(parsed.GetTensorShape("input"), (std::vector<size_t>{2, 4})) << name;
   }
   EXPECT_FALSE(std::filesystem::exists("PWNED"));
   EXPECT_FALSE(std::filesystem::exists(dir / "PWNED"));
}

TEST_F(BadInput, NulInFileName)
{
   const std::string name = kSelu + std::string("\0.pt", 4);
   EXPECT_PARSE_ERROR(PT::Parse(name, {{2, 4}}), "ModelLoadError", "NUL");
}

TEST_F(BadInput, EmptyFileName)
{
   EXPECT_PARSE_ERROR(PT::Parse("", {{2, 4}}), "ModelLoadError", "empty file name");
}

TEST_F(BadInput, NoShapes)
{
   EXPECT_PARSE_ERROR(PT::Parse(kSelu, {}), "InputSpecError", "no input shapes given");
}

TEST_F(BadInput, EmptyShape)
{
   EXPECT_PARSE_ERROR(PT::Parse(kSelu, {{}}), "InputSpecError", "is empty");
}

TEST_F(BadInput, ZeroDimension)
{
   EXPECT_PARSE_ERROR(PT::Parse(kSelu, {{2, 0}}), "InputSpecError", "sizes >= 1");
}

TEST_F(BadInput, AbsurdlyLargeDimensions)
{
   EXPECT_PARSE_ERROR(PT::Parse(kSelu, {{size_t(1) << 40, size_t(1) << 40}}), "InputSpecError",
                      "more than the limit");
   EXPECT_PARSE_ERROR(PT::Parse(kSelu, {{2, size_t(1) << 62}}), "InputSpecError", "more than the limit");
}

TEST_F(BadInput, UnsupportedDtypes)
{
   for (ETensorType type : {ETensorType::FLOAT16, ETensorType::UINT8, ETensorType::COMPLEX64})
      EXPECT_PARSE_ERROR(PT::Parse(kSelu, {{2, 4}}, {type}), "InputSpecError", "use one of");
}

TEST_F(BadInput, BoolIsASupportedDtypeFromCpp)
{
   // Not refused as a dtype (SOFIE's own spelling of BOOL is "uint8_t"); the float model
   // then fails on a bool input, in Torch.
   const auto e = Caught([] { PT::Parse(kSelu, {{2, 4}}, {ETensorType::BOOL}); });
   EXPECT_EQ(e.kind(), "TracingError") << e.what();
}

TEST_F(BadInput, OneDtypePerInput)
{
   EXPECT_PARSE_ERROR(PT::Parse(kSelu, {{2, 4}}, {ETensorType::FLOAT, ETensorType::FLOAT}), "InputSpecError",
                      "2 dtypes given for 1 inputs");
}

TEST_F(BadInput, WriteGeneratedIntoMissingDirectory)
{
   auto model = PT::Parse(kSelu, {{2, 4}});
   model.Generate();
   EXPECT_PARSE_ERROR(PT::WriteGenerated(model, dir / "missing/m.hxx"), "OutputError", "create the directory");
   EXPECT_PARSE_ERROR(PT::WriteGenerated(model, "/proc/m.hxx"), "OutputError", "cannot write");
   EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

} // namespace
