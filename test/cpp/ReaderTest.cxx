// The C++ Reader: parse, generate, JIT-compile with cling, Compute, compared with Torch.
#include "Compare.hxx"
#include "GeneratedCode.hxx"

#include "TMVA/RSofieReader_PyTorch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace sofie_pytorch_test;

namespace {

const std::string kModels = SOFIE_PYTORCH_TEST_MODELS;

TEST(Reader, ComputeMatchesTorch)
{
   const ModelData data = ReadModelData(kModels, "tmva_classifier");
   SOFIE::PyTorch::Reader reader(kModels + "/" + data.file, data.shapes);
   ExpectClose(reader.Compute(AsFloats(data.inputs[0])), data.torchOutputs[0]);
}

TEST(Reader, TwoReadersOfOneModelAndSeveralOutputs)
{
   const ModelData data = ReadModelData(kModels, "two_in_two_out");
   SOFIE::PyTorch::Reader first(kModels + "/" + data.file, data.shapes);
   SOFIE::PyTorch::Reader second(kModels + "/" + data.file, data.shapes);
   EXPECT_NE(first.Namespace(), second.Namespace());
   for (auto *reader : {&first, &second}) {
      const auto outputs = reader->Compute({AsFloats(data.inputs[0]), AsFloats(data.inputs[1])});
      ASSERT_EQ(outputs.size(), 2u);
      ExpectClose(outputs[0], data.torchOutputs[0]);
      ExpectClose(outputs[1], data.torchOutputs[1]);
   }
}

TEST(Reader, WrongInputSizeIsAnError)
{
   const ModelData data = ReadModelData(kModels, "tmva_classifier");
   SOFIE::PyTorch::Reader reader(kModels + "/" + data.file, data.shapes);
   try {
      reader.Compute(std::vector<float>(3, 0.f));
      FAIL() << "no error for a wrong input size";
   } catch (const SOFIE::PyTorch::ParseError &e) {
      EXPECT_EQ(e.kind(), "InputSpecError");
      EXPECT_NE(std::string(e.what()).find("has 3 values, the model expects 32"), std::string::npos) << e.what();
   }
}

} // namespace
