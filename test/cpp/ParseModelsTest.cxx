// Each test model: parse the TorchScript file, generate the code, compile it with g++
// against OpenBLAS, run it and compare with Torch's outputs (written by zoo.py).
#include "GeneratedCode.hxx"

#include "TMVA/RModelParser_PyTorch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

using namespace sofie_pytorch_test;

namespace {

const std::string kModels = SOFIE_PYTORCH_TEST_MODELS;

// float32 arithmetic in a different order than Torch's: a few ulps, amplified through
// the layers; 1e-5 absolute plus 1e-4 relative holds with a wide margin.
constexpr double kAbsTolerance = 1e-5;
constexpr double kRelTolerance = 1e-4;

void ExpectClose(const std::vector<float> &got, const std::vector<float> &want, const std::string &what)
{
   ASSERT_EQ(got.size(), want.size()) << what;
   for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(got[i], want[i], kAbsTolerance + kRelTolerance * std::abs(want[i])) << what << " element " << i;
}

class ZooModel : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooModel, GeneratedCodeMatchesTorch)
{
   const ModelData data = ReadModelData(kModels, GetParam());
   std::vector<TMVA::Experimental::SOFIE::ETensorType> types;
   for (const auto &dtype : data.dtypes)
      types.push_back(dtype == "int64" ? TMVA::Experimental::SOFIE::ETensorType::INT64
                                       : TMVA::Experimental::SOFIE::ETensorType::FLOAT);
   auto model = TMVA::Experimental::SOFIE::PyTorch::Parse(kModels + "/" + data.file, data.shapes, types);
   model.Generate();
   TempDir out;
   model.OutputGenerated(out.path() + "/" + data.name + ".hxx");

   const auto outputs = CompileAndRun(out.path(), data.name, data.inputs, data.dtypes);
   ASSERT_EQ(outputs.size(), data.torchOutputs.size());
   for (size_t i = 0; i < outputs.size(); ++i)
      ExpectClose(outputs[i], data.torchOutputs[i], data.name + " output " + std::to_string(i));
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooModel, ::testing::ValuesIn(ReadManifest(kModels)),
                         [](const auto &info) { return info.param; });

TEST(ParseTwice, SecondParseInTheSameProcessWorks)
{
   const std::string file = kModels + "/sequential_selu.pt";
   auto first = TMVA::Experimental::SOFIE::PyTorch::Parse(file, {{2, 4}});
   auto second = TMVA::Experimental::SOFIE::PyTorch::Parse(file, {{3, 4}});
   EXPECT_EQ(second.GetTensorShape("input"), (std::vector<size_t>{3, 4}));
}

} // namespace
