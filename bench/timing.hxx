// The timing loop shared by the benchmark's C++ drivers (driver.cxx: generated SOFIE code;
// aoti_driver.cxx: AOTInductor packages), the same scheme as timing.py: warm up for 50 ms,
// pick a block of about 10 ms, time blocks until MIN_SECONDS have passed (at least 10
// blocks), then print one JSON line: per-call nanoseconds of each block (process CPU time,
// and wall time), and the peak resident memory of the process.
#ifndef SOFIE_PYTORCH_BENCH_TIMING_HXX
#define SOFIE_PYTORCH_BENCH_TIMING_HXX

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

// Peak resident memory of this process in kB. VmHWM, not getrusage's ru_maxrss: Linux
// carries ru_maxrss over exec, so a child of a big Python process would report the parent's.
inline long peak_rss_kb()
{
   std::ifstream status("/proc/self/status");
   std::string key;
   long value = -1;
   while (status >> key) {
      if (key == "VmHWM:") {
         status >> value;
         break;
      }
   }
   return value;
}

inline double seconds_since(Clock::time_point start)
{
   return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of the process: on a shared machine it leaves out the time spent waiting for a
// core, which wall time counts (everything timed here runs on one thread).
inline double cpu_seconds()
{
   timespec t{};
   clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
   return t.tv_sec + 1e-9 * t.tv_nsec;
}

/// Time `call` as described above and print the JSON line to stdout.
template <typename Call>
void time_and_report(Call &&call, double min_seconds)
{
   // warm-up (caches, BLAS buffers), then a block size of about 10 ms
   auto start = Clock::now();
   long warm = 0;
   while (seconds_since(start) < 0.05 || warm < 3) {
      call();
      ++warm;
   }
   const double per_call = seconds_since(start) / warm;
   const long calls = std::max(1L, static_cast<long>(0.01 / per_call));

   std::vector<double> blocks, walls;
   start = Clock::now();
   while (seconds_since(start) < min_seconds || blocks.size() < 10) {
      const auto block_start = Clock::now();
      const double cpu_start = cpu_seconds();
      for (long i = 0; i < calls; ++i)
         call();
      blocks.push_back((cpu_seconds() - cpu_start) * 1e9 / calls);
      walls.push_back(seconds_since(block_start) * 1e9 / calls);
   }

   std::printf("{\"calls_per_block\": %ld, \"maxrss_kb\": %ld, \"block_ns\": [", calls, peak_rss_kb());
   for (std::size_t i = 0; i < blocks.size(); ++i)
      std::printf("%s%.1f", i ? ", " : "", blocks[i]);
   std::printf("], \"block_wall_ns\": [");
   for (std::size_t i = 0; i < walls.size(); ++i)
      std::printf("%s%.1f", i ? ", " : "", walls[i]);
   std::printf("]}\n");
}

/// Read `n` little-endian floats from `path` into `x`; false if the file is too short.
inline bool read_floats(const char *path, std::vector<float> &x, std::size_t n)
{
   x.resize(n);
   std::ifstream in(path, std::ios::binary);
   return static_cast<bool>(in.read(reinterpret_cast<char *>(x.data()), n * sizeof(float)));
}

inline void write_floats(const char *path, const float *data, std::size_t n)
{
   std::ofstream out(path, std::ios::binary);
   out.write(reinterpret_cast<const char *>(data), n * sizeof(float));
}

} // namespace bench

#endif
