// Throughput of RSofieReader::Compute from several threads: this project's reader (a
// Session per thread, no lock) against the same reader behind one std::mutex (what
// ROOT's reader does with its global write lock for every Compute).
//
//   SOFIE_BENCH_MODEL=model.pt SOFIE_BENCH_FEATURES=7 root -l -b -q bench/rsofiereader_threads.C
//
// (bench/rsofiereader_threads.py makes the models and runs this; the path is read from
// the environment, never pasted into code.) Prints events per second per configuration.
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace {

template <typename F>
double EventsPerSecond(int nThreads, long perThread, F &&compute)
{
   std::vector<std::thread> threads;
   const auto start = std::chrono::steady_clock::now();
   for (int t = 0; t < nThreads; ++t)
      threads.emplace_back([&, t] {
         std::vector<float> x(compute.n, 0.1f * (t + 1));
         float sink = 0;
         for (long i = 0; i < perThread; ++i) {
            x[i % x.size()] += 1e-3f;
            sink += compute(x)[0];
         }
         if (sink == 12345.f)
            std::cout << "";
      });
   for (auto &thread : threads)
      thread.join();
   const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
   return nThreads * perThread / seconds;
}

// Counts the calls that started while another thread was inside Compute: evidence of
// parallel inference that does not depend on the machine having an idle core.
std::atomic<int> gInFlight{0};
std::atomic<long> gOverlapping{0};

struct Lockless {
   TMVA::Experimental::RSofieReader &reader;
   size_t n;
   std::vector<float> operator()(const std::vector<float> &x)
   {
      if (gInFlight++ > 0)
         ++gOverlapping;
      auto y = reader.Compute(x);
      --gInFlight;
      return y;
   }
};

struct SingleLock {
   TMVA::Experimental::RSofieReader &reader;
   size_t n;
   std::mutex &mutex;
   std::vector<float> operator()(const std::vector<float> &x)
   {
      std::lock_guard<std::mutex> lock(mutex);
      if (gInFlight++ > 0)
         ++gOverlapping;
      auto y = reader.Compute(x);
      --gInFlight;
      return y;
   }
};

} // namespace

void rsofiereader_threads()
{
   const std::string model = gSystem->Getenv("SOFIE_BENCH_MODEL");
   const size_t n = std::stoul(gSystem->Getenv("SOFIE_BENCH_FEATURES"));
   const long perThread = std::stol(gSystem->Getenv("SOFIE_BENCH_EVENTS"));
   TMVA::Experimental::RSofieReader reader(model, {{1, n}});
   std::mutex mutex;
   Lockless lockless{reader, n};
   SingleLock locked{reader, n, mutex};
   EventsPerSecond(2, perThread / 10, lockless); // warm up: Sessions made, caches filled
   for (int round = 0; round < 3; ++round) {
      std::cout << "RESULT 1thread " << EventsPerSecond(1, perThread, lockless) << "\n";
      gOverlapping = 0;
      std::cout << "RESULT 2threads_lockless " << EventsPerSecond(2, perThread, lockless) << "\n";
      std::cout << "RESULT overlap_lockless " << double(gOverlapping) / (2 * perThread) << "\n";
      gOverlapping = 0;
      std::cout << "RESULT 2threads_single_lock " << EventsPerSecond(2, perThread, locked) << "\n";
      std::cout << "RESULT overlap_single_lock " << double(gOverlapping) / (2 * perThread) << "\n";
   }
}
