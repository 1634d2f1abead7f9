// Times one generated SOFIE Session: compiled once per model, batch size and front end with
//   g++ -O3 -march=native -DSOFIE_HEADER='"x.hxx"' -DSOFIE_NS=SOFIE_x driver.cxx -lopenblas
// Usage: driver WEIGHTS INPUT.bin N_INPUT OUTPUT.bin MIN_SECONDS
// Writes the output of one infer() on INPUT to OUTPUT (checked against Torch by the caller;
// MIN_SECONDS = 0 stops there), then warms up, picks a block size of about 10 ms, and times blocks until MIN_SECONDS have
// passed (at least 10 blocks). Prints one JSON line: per-call nanoseconds of each block (CPU
// time, and wall time), and the peak resident memory of the process (the Session, its weights
// and OpenBLAS).
#include SOFIE_HEADER

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

const std::vector<float> &flat(const std::vector<float> &v) { return v; }
std::vector<float> flat(const std::vector<std::vector<float>> &vs)
{
   std::vector<float> all;
   for (const auto &v : vs) all.insert(all.end(), v.begin(), v.end());
   return all;
}

// Peak resident memory of this process in kB. VmHWM, not getrusage's ru_maxrss: Linux
// carries ru_maxrss over exec, so a child of a big Python process would report the parent's.
long peak_rss_kb()
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

double seconds_since(Clock::time_point start)
{
   return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of the process: on a shared machine it leaves out the time spent waiting for a
// core, which wall time counts (all of it is one thread: OpenBLAS runs single-threaded).
double cpu_seconds()
{
   timespec t{};
   clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
   return t.tv_sec + 1e-9 * t.tv_nsec;
}

}  // namespace

int main(int argc, char **argv)
{
   if (argc != 6) {
      std::fprintf(stderr, "usage: %s WEIGHTS INPUT.bin N_INPUT OUTPUT.bin MIN_SECONDS\n", argv[0]);
      return 2;
   }
   const std::size_t n_input = std::strtoul(argv[3], nullptr, 10);
   const double min_seconds = std::strtod(argv[5], nullptr);
   std::vector<float> x(n_input);
   std::ifstream in(argv[2], std::ios::binary);
   if (!in.read(reinterpret_cast<char *>(x.data()), n_input * sizeof(float))) {
      std::fprintf(stderr, "cannot read %zu floats from %s\n", n_input, argv[2]);
      return 2;
   }

   SOFIE_NS::Session session(argv[1]);
   {
      const std::vector<float> y = flat(session.infer(x.data()));
      std::ofstream out(argv[4], std::ios::binary);
      out.write(reinterpret_cast<const char *>(y.data()), y.size() * sizeof(float));
   }
   if (min_seconds <= 0) return 0;  // a check-only run: wrong results are never timed

   volatile float sink = 0;  // keeps the calls from being optimised away
   auto call = [&] { sink = sink + flat(session.infer(x.data()))[0]; };

   // warm-up (caches, OpenBLAS buffers), then a block size of about 10 ms
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
      for (long i = 0; i < calls; ++i) call();
      blocks.push_back((cpu_seconds() - cpu_start) * 1e9 / calls);
      walls.push_back(seconds_since(block_start) * 1e9 / calls);
   }

   std::printf("{\"calls_per_block\": %ld, \"maxrss_kb\": %ld, \"block_ns\": [", calls, peak_rss_kb());
   for (std::size_t i = 0; i < blocks.size(); ++i) std::printf("%s%.1f", i ? ", " : "", blocks[i]);
   std::printf("], \"block_wall_ns\": [");
   for (std::size_t i = 0; i < walls.size(); ++i) std::printf("%s%.1f", i ? ", " : "", walls[i]);
   std::printf("]}\n");
   return 0;
}
