// Embedding safety from a compiled program (no Python interpreter until the first Parse):
// two Parses in a row, two threads parsing at once, no growth of resident memory over
// 1000 Parses, and whole-or-nothing output from C++. ctest runs each test in its own
// process, so every test starts with the interpreter not yet running.
#include "TestFiles.hxx"

#include "TMVA/RModelParser_PyTorch.h"
#include "TMVA/WriteGenerated_PyTorch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace sofie_pytorch_test;
namespace PT = TMVA::Experimental::SOFIE::PyTorch;

const std::string kSelu = kModels + "/sequential_selu.pt";
const std::string kTwo = kModels + "/two_in_two_out.pt";

/// Resident set size of this process, in bytes.
size_t ResidentBytes()
{
   std::ifstream statm("/proc/self/statm");
   size_t size = 0, resident = 0;
   statm >> size >> resident;
   return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

TEST(Embedding, TwiceInARow)
{
   auto first = PT::Parse(kSelu, {{2, 4}});
   auto second = PT::Parse(kSelu, {{3, 4}});
   EXPECT_EQ(first.GetTensorShape("input"), (std::vector<size_t>{2, 4}));
   EXPECT_EQ(second.GetTensorShape("input"), (std::vector<size_t>{3, 4}));
}

TEST(Embedding, TwoThreadsAtOnceFirstCallIncluded)
{
   // Both threads race to start the interpreter, then keep parsing concurrently; the
   // library serialises them on the GIL. A deadlock would hang here (ctest's timeout).
   constexpr int kRounds = 10;
   std::vector<size_t> batchA, batchB;
   std::string errorA, errorB;
   std::thread a([&] {
      try {
         for (int i = 0; i < kRounds; ++i)
            batchA.push_back(PT::Parse(kSelu, {{size_t(1 + i), 4}}).GetTensorShape("input")[0]);
      } catch (const std::exception &e) {
         errorA = e.what();
      }
   });
   std::thread b([&] {
      try {
         for (int i = 0; i < kRounds; ++i) {
            auto model = PT::Parse(kTwo, {{size_t(1 + i), 3}, {size_t(1 + i), 5}});
            batchB.push_back(model.GetTensorShape("y")[0]);
         }
      } catch (const std::exception &e) {
         errorB = e.what();
      }
   });
   a.join();
   b.join();
   EXPECT_EQ(errorA, "");
   EXPECT_EQ(errorB, "");
   std::vector<size_t> expected;
   for (int i = 0; i < kRounds; ++i)
      expected.push_back(size_t(1 + i));
   EXPECT_EQ(batchA, expected);
   EXPECT_EQ(batchB, expected);
}

TEST(Embedding, ThreadAfterMainThread)
{
   PT::Parse(kSelu, {{2, 4}});
   std::vector<size_t> shape;
   std::thread t([&] { shape = PT::Parse(kSelu, {{5, 4}}).GetTensorShape("input"); });
   t.join();
   EXPECT_EQ(shape, (std::vector<size_t>{5, 4}));
}

// 1000 Parses of a small model: resident memory may not grow by more than 50 MB (a leak of
// one Python reference to the traced graph per call would be ~10 KB x 1000; a leaked
// RModel or module far more). The first 20 calls warm up caches (imports, torch's
// dispatcher, allocator pools) and are not counted.
TEST(Embedding, NoMemoryGrowthOver1000Parses)
{
   constexpr int kWarmup = 20, kCalls = 1000;
   constexpr double kBoundMB = 50.0;
   for (int i = 0; i < kWarmup; ++i)
      PT::Parse(kSelu, {{2, 4}});
   const size_t before = ResidentBytes();
   const auto start = std::chrono::steady_clock::now();
   for (int i = 0; i < kCalls; ++i) {
      auto model = PT::Parse(kSelu, {{2, 4}});
      ASSERT_EQ(model.GetTensorShape("input")[0], 2u);
   }
   const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
   const double growthMB = (double(ResidentBytes()) - double(before)) / (1024.0 * 1024.0);
   std::printf("resident memory growth over %d Parses: %.1f MB (%.1f s)\n", kCalls, growthMB, seconds);
   RecordProperty("rss_growth_mb", std::to_string(growthMB));
   EXPECT_LT(growthMB, kBoundMB);
}

TEST(Embedding, WriteGeneratedFromCompiledCode)
{
   ScratchDir dir;
   auto model = PT::Parse(kSelu, {{2, 4}});
   model.Generate();
   const auto written = PT::WriteGenerated(model, dir / "selu.hxx");
   ASSERT_EQ(written, (std::vector<std::string>{dir / "selu.hxx", dir / "selu.dat"}));
   EXPECT_EQ(ReadFile(written[0]), model.ReturnGenerated());
   // Nothing else (no temporary file) is left in the directory.
   size_t entries = 0;
   for ([[maybe_unused]] const auto &entry : std::filesystem::directory_iterator(dir.path()))
      ++entries;
   EXPECT_EQ(entries, 2u);
   // Not generated yet: refused, nothing written.
   auto fresh = PT::Parse(kSelu, {{2, 4}});
   const auto e = Caught([&] { PT::WriteGenerated(fresh, dir / "other.hxx"); });
   EXPECT_EQ(e.kind(), "OutputError");
   EXPECT_FALSE(std::filesystem::exists(dir / "other.hxx"));
}

} // namespace
