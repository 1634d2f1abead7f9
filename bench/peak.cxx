// The core's practical single-thread FP32 peak for the roofline figures: OpenBLAS sgemm on
// 1024^3 (the same library and thread count as the generated code), best of a few runs, in
// process CPU time (the machine is shared: wall time would count waiting for a core).
// Build: g++ -O2 peak.cxx -o peak -lopenblas; prints GFLOP/s as one number.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <vector>

extern "C" void sgemm_(const char *, const char *, const int *, const int *, const int *, const float *,
                       const float *, const int *, const float *, const int *, const float *, float *, const int *);

int main()
{
   const int n = 1024;
   std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n, 0.0f);
   const float one = 1.0f, zero = 0.0f;
   double best = 0;
   for (int run = 0; run < 5; ++run) {
      timespec t0{}, t1{};
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
      sgemm_("N", "N", &n, &n, &n, &one, a.data(), &n, b.data(), &n, &zero, c.data(), &n);
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
      const double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
      best = std::max(best, 2.0 * n * n * n / s / 1e9);
   }
   std::printf("%.1f\n", best);
   return c[0] == 128.0f ? 0 : 1;  // 1024 * 0.5 * 0.25: the product was really computed
}
