// The core's single-thread FP32 peak for the roofline figures, in process CPU time (the
// machine is shared: wall time would count waiting for a core), best of a few runs:
//   1. the core's peak: independent FMAs on the widest vectors the target has (GCC vector
//      extensions, 16 accumulators: enough to cover the FMA latency on two ports);
//   2. for reference, what OpenBLAS sgemm reaches on 1024^3 (the library the engine's
//      operators call). OpenBLAS 0.3.21 does not recognise every recent core and may fall
//      back to an old kernel, so (2) can be far below (1).
// Build: g++ -O2 -march=native peak.cxx -o peak -lopenblas; prints "fma sgemm" in GFLOP/s.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <vector>

extern "C" void sgemm_(const char *, const char *, const int *, const int *, const int *, const float *,
                       const float *, const int *, const float *, const int *, const float *, float *, const int *);

namespace {

double Seconds(const timespec &t0, const timespec &t1)
{
   return (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
}

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float Vec __attribute__((vector_size(4 * kLanes)));

// acc = acc * x + y, 16 independent chains; x is hidden from the optimiser each iteration
// so that the loop cannot be folded. Returns GFLOP/s; *check gets a value that depends on
// every chain.
double FmaPeak(float seed, float *check)
{
   constexpr int kAcc = 16;
   constexpr long kIters = 20000000;
   Vec acc[kAcc], x, y;
   for (int l = 0; l < kLanes; ++l) {
      x[l] = seed;
      y[l] = 1e-7f;
   }
   for (int i = 0; i < kAcc; ++i)
      acc[i] = y * float(i);
   timespec t0{}, t1{};
   clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
   for (long it = 0; it < kIters; ++it) {
#pragma GCC unroll 16
      for (int i = 0; i < kAcc; ++i)
         acc[i] = acc[i] * x + y;
      asm volatile("" : "+x"(x));
   }
   clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
   float sum = 0;
   for (int i = 0; i < kAcc; ++i)
      sum += acc[i][0];
   *check = sum;
   return 2.0 * kLanes * kAcc * kIters / Seconds(t0, t1) / 1e9;
}

double SgemmRate(std::vector<float> &c)
{
   const int n = 1024;
   std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f);
   const float one = 1.0f, zero = 0.0f;
   timespec t0{}, t1{};
   clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
   sgemm_("N", "N", &n, &n, &n, &one, a.data(), &n, b.data(), &n, &zero, c.data(), &n);
   clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
   return 2.0 * n * n * n / Seconds(t0, t1) / 1e9;
}

} // namespace

int main(int argc, char **)
{
   double fma = 0, sgemm = 0;
   float check = 0;
   std::vector<float> c(1024 * 1024, 0.0f);
   for (int run = 0; run < 3; ++run) {
      fma = std::max(fma, FmaPeak(1.0f + 1e-9f * argc, &check));
      sgemm = std::max(sgemm, SgemmRate(c));
   }
   std::printf("%.1f %.1f\n", fma, sgemm);
   // 1024 * 0.5 * 0.25: the product was really computed; the FMA chains were really run
   return c[0] == 128.0f && check > 0 ? 0 : 1;
}
