// ROOT's user API from C++: RSofieReader (Compute from several threads in parallel, the
// batch form, bad input) and SofieFunctor (compiled with the generated code, next to the
// engine's own helper header). Few tests, each doing several things: every test is a
// process that imports torch and starts cling.
#include "Compare.hxx"
#include "GeneratedCode.hxx"

#include "TMVA/RSofieReader.hxx"
#include "TMVA/WriteGenerated_PyTorch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

using namespace sofie_pytorch_test;
using TMVA::Experimental::RSofieReader;

namespace {

const std::string kModels = SOFIE_PYTORCH_TEST_MODELS;

template <typename F>
std::string ErrorOf(F &&call)
{
   try {
      call();
   } catch (const std::runtime_error &e) {
      return e.what();
   }
   return "no error";
}

TEST(RSofieReader, ComputeFromThreadsInParallelMatchesTorch)
{
   // tmva_classifier: one input of shape (8, 4), one output (8, 2)
   const ModelData data = ReadModelData(kModels, "tmva_classifier");
   RSofieReader reader(kModels + "/" + data.file, data.shapes);
   const std::vector<float> x = AsFloats(data.inputs[0]);
   ExpectClose(reader.Compute(x), data.torchOutputs[0]);

   // Different inputs per call, checked against the single-threaded results: threads
   // sharing one Session would mix up their intermediate buffers.
   std::vector<std::vector<float>> inputs, expected;
   for (int k = 0; k < 16; ++k) {
      inputs.push_back(x);
      for (auto &v : inputs.back())
         v = v * (1.f + 0.1f * k) - 0.05f * k;
      expected.push_back(reader.Compute(inputs.back()));
   }
   constexpr int kThreads = 4;
   std::atomic<int> started{0}, mismatches{0};
   std::vector<std::thread> threads;
   for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
         reader.Compute(inputs[t]); // takes this thread's Session...
         ++started;
         while (started < kThreads) // ...and keeps it while the others take theirs
            std::this_thread::yield();
         for (int round = 0; round < 300; ++round) {
            const int k = (round + t) % 16;
            if (reader.Compute(inputs[k]) != expected[k])
               ++mismatches;
         }
      });
   }
   for (auto &thread : threads)
      thread.join();
   EXPECT_EQ(mismatches, 0);
   // The main thread's Session and one per worker alive at the same time.
   EXPECT_EQ(reader.GetReader().SessionCount(), static_cast<size_t>(kThreads + 1));
   // A new thread reuses a Session given back by a finished one.
   std::thread([&] { EXPECT_EQ(reader.Compute(inputs[3]), expected[3]); }).join();
   EXPECT_EQ(reader.GetReader().SessionCount(), static_cast<size_t>(kThreads + 1));

   // The batch form: {nevents, nfeatures} -> {nevents, noutputs}, each event the model's
   // whole input here (8x4 values), so two events of 32 values.
   std::vector<float> batch(inputs[0]);
   batch.insert(batch.end(), inputs[1].begin(), inputs[1].end());
   TMVA::Experimental::RTensor<float> tensor(batch.data(), {2, 32});
   auto y = reader.Compute(tensor);
   ASSERT_EQ(y.GetShape(), (std::vector<size_t>{2, 16}));
   for (size_t i = 0; i < 2; ++i)
      EXPECT_EQ(std::vector<float>(y.GetData() + 16 * i, y.GetData() + 16 * (i + 1)), expected[i]);
}

TEST(RSofieReader, BadInputIsAClearError)
{
   const ModelData data = ReadModelData(kModels, "two_in_two_out");
   const std::string path = kModels + "/" + data.file;
   RSofieReader reader(path, data.shapes);
   const auto a = AsFloats(data.inputs[0]), b = AsFloats(data.inputs[1]);
   // several inputs: the variadic Compute, the first output
   ExpectClose(reader.Compute(a, b), data.torchOutputs[0]);

   EXPECT_EQ(ErrorOf([&] { reader.Compute(a); }), "1 inputs given, the model takes 2");
   EXPECT_EQ(ErrorOf([&] { reader.Compute(a, b, b); }), "3 inputs given, the model takes 2");
   // a vector of the wrong length is refused before anything is read from it
   std::vector<float> shortOne(a.begin(), a.end() - 1);
   EXPECT_EQ(ErrorOf([&] { reader.Compute(shortOne, b); }), "input 0 has 5 values, the model expects 6");
   EXPECT_EQ(ErrorOf([&] { reader.Compute(a, std::vector<float>()); }), "input 1 has 0 values, the model expects 10");
   TMVA::Experimental::RTensor<float> tensor({3, 6});
   EXPECT_NE(ErrorOf([&] { reader.Compute(tensor); }).find("the batch Compute takes models of one input"),
             std::string::npos);

   EXPECT_NE(ErrorOf([&] { RSofieReader r("/no/such/model.pt", data.shapes); }).find("/no/such/model.pt"),
             std::string::npos);
   EXPECT_NE(ErrorOf([&] { RSofieReader r(kModels + "/MANIFEST", data.shapes); }).find("supported are PyTorch files"),
             std::string::npos);
   EXPECT_NE(ErrorOf([&] { RSofieReader r("model.keras", data.shapes); }).find("(.onnx)"), std::string::npos);
   EXPECT_NE(ErrorOf([&] { RSofieReader r(path); }).find("a PyTorch model needs the shape of each input"),
             std::string::npos);
   EXPECT_NE(ErrorOf([&] { RSofieReader r("/no/such/model.onnx"); }).find("no such file: /no/such/model.onnx"),
             std::string::npos);
   RSofieReader empty;
   EXPECT_NE(ErrorOf([&] { empty.Compute(a); }).find("no model loaded"), std::string::npos);
   // a failed Load keeps the model loaded before
   EXPECT_NE(ErrorOf([&] { reader.Load("/no/such/model.pt", data.shapes); }), "no error");
   ExpectClose(reader.Compute(a, b), data.torchOutputs[0]);
}

TEST(SofieFunctor, CompiledWithTheGeneratedCodeAndTheEnginesHelper)
{
   const ModelData data = ReadModelData(kModels, "tmva_classifier");
   ASSERT_EQ(data.shapes.size(), 1u);
   const size_t nFeatures = data.shapes[0].back(), nEvents = data.shapes[0][0];
   auto model = SOFIE::PyTorch::Parse(kModels + "/" + data.file, {{1, nFeatures}});
   model.Generate();
   TempDir dir;
   SOFIE::PyTorch::WriteGenerated(model, dir.path() + "/model.hxx");
   const std::string ns = "TMVA_SOFIE_" + model.GetFilename();

   // ROOT-style code: ROOT's namespace, ROOT's functor called as RDataFrame calls it
   // (slot, N values), with an int slot count (ROOT's tutorial) and an unsigned one; the
   // engine's own ::SofieFunctor is visible too.
   std::ofstream(dir.path() + "/driver.cxx")
      << "#include \"model.hxx\"\n#include \"SOFIE/SOFIEHelpers.hxx\"\n#include \"TMVA/SOFIEHelpers.hxx\"\n"
      << "#include <cstdio>\n#include <fstream>\n#include <vector>\n"
      << "using namespace TMVA::Experimental;\n"
      << "template <std::size_t... I, typename F>\n"
      << "double Call(F &f, unsigned slot, const float *x, std::index_sequence<I...>) { return f(slot, x[I]...); }\n"
      << "int main(int, char **argv) {\n"
      << "   std::ifstream in(argv[1], std::ios::binary);\n"
      << "   std::vector<float> x(" << nEvents * nFeatures << ");\n"
      << "   in.read(reinterpret_cast<char *>(x.data()), x.size() * sizeof(float));\n"
      << "   int nslots = 2;\n"
      << "   auto byInt = SofieFunctor<" << nFeatures << ", " << ns << "::Session>(nslots, argv[2]);\n"
      << "   auto byUnsigned = SofieFunctor<" << nFeatures << ", " << ns << "::Session>(2u, argv[2]);\n"
      << "   for (unsigned e = 0; e < " << nEvents << "; ++e) {\n"
      << "      const float *row = x.data() + e * " << nFeatures << ";\n"
      << "      std::printf(\"%.9g %.9g\\n\", Call(byInt, e % 2, row, std::make_index_sequence<" << nFeatures << ">{}),\n"
      << "                  Call(byUnsigned, e % 2, row, std::make_index_sequence<" << nFeatures << ">{}));\n"
      << "   }\n}\n";
   std::ofstream(dir.path() + "/x.bin", std::ios::binary)
      .write(data.inputs[0].data(), static_cast<std::streamsize>(data.inputs[0].size()));
   const std::string compile = std::string(SOFIE_PYTORCH_TEST_CXX) + " -std=c++17 -O1 -I" + dir.path() +
                               " -I" SOFIE_PYTORCH_TEST_INCLUDE " -I" SOFIE_PYTORCH_TEST_ENGINE_INCLUDE " " +
                               dir.path() + "/driver.cxx -o " + dir.path() + "/driver " SOFIE_PYTORCH_TEST_BLAS;
   ASSERT_EQ(std::system(compile.c_str()), 0) << compile;
   const std::string run = dir.path() + "/driver " + dir.path() + "/x.bin " + dir.path() + "/model.dat > " +
                           dir.path() + "/out.txt";
   ASSERT_EQ(std::system(run.c_str()), 0) << run;
   std::ifstream out(dir.path() + "/out.txt");
   const auto &want = data.torchOutputs[0];
   const size_t nOutputs = want.size() / nEvents;
   for (size_t e = 0; e < nEvents; ++e) {
      float byInt = 0, byUnsigned = 0;
      ASSERT_TRUE(out >> byInt >> byUnsigned) << "event " << e;
      const float w = want[e * nOutputs];
      EXPECT_NEAR(byInt, w, 1e-5 + 1e-4 * std::abs(w)) << "event " << e;
      EXPECT_NEAR(byUnsigned, w, 1e-5 + 1e-4 * std::abs(w)) << "event " << e;
   }
}

} // namespace
