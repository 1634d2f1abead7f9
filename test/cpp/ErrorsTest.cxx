// Bad input from C++: each failure is a ParseError whose kind() names the cause and whose
// message tells the user what to do; the process keeps working afterwards.
#include "TMVA/RModelParser_PyTorch.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using SOFIE::PyTorch::ParseError;
namespace PT = TMVA::Experimental::SOFIE::PyTorch;

const std::string kModels = SOFIE_PYTORCH_TEST_MODELS;

/// The ParseError thrown by f; fails the test if there is none.
template <typename F>
ParseError Caught(F &&f)
{
   try {
      f();
   } catch (const ParseError &e) {
      return e;
   }
   ADD_FAILURE() << "no ParseError thrown";
   return ParseError("", "");
}

TEST(Errors, MissingFile)
{
   const auto e = Caught([] { PT::Parse(kModels + "/does_not_exist.pt", {{2, 4}}); });
   EXPECT_EQ(e.kind(), "ModelLoadError");
   EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos) << e.what();
}

TEST(Errors, TooManyShapes)
{
   const auto e = Caught([] { PT::Parse(kModels + "/sequential_selu.pt", {{2, 4}, {2, 4}}); });
   EXPECT_EQ(e.kind(), "InputSpecError");
   EXPECT_NE(std::string(e.what()).find("2 input shapes given, but the model takes 1"), std::string::npos)
      << e.what();
}

TEST(Errors, TooFewShapes)
{
   const auto e = Caught([] { PT::Parse(kModels + "/two_in_two_out.pt", {{2, 3}}); });
   EXPECT_EQ(e.kind(), "InputSpecError");
   EXPECT_NE(std::string(e.what()).find("the model takes 2 input(s) (x, y)"), std::string::npos) << e.what();
}

TEST(Errors, ShapeThatDoesNotFitTheModel)
{
   const auto e = Caught([] { PT::Parse(kModels + "/sequential_selu.pt", {{2, 5}}); });
   EXPECT_EQ(e.kind(), "TracingError");
   EXPECT_NE(std::string(e.what()).find("shapes cannot be multiplied"), std::string::npos) << e.what();
}

TEST(Errors, NextParseAfterAFailureWorks)
{
   Caught([] { PT::Parse(kModels + "/does_not_exist.pt", {{2, 4}}); });
   auto model = PT::Parse(kModels + "/sequential_selu.pt", {{2, 4}});
   EXPECT_EQ(model.GetTensorShape("input"), (std::vector<size_t>{2, 4}));
}

} // namespace
