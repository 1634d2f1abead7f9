// Times one generated SOFIE Session: compiled once per model, batch size and front end with
//   g++ -O3 -march=native -DSOFIE_HEADER='"x.hxx"' -DSOFIE_NS=SOFIE_x driver.cxx -lopenblas
// Usage: driver WEIGHTS INPUT.bin N_INPUT OUTPUT.bin MIN_SECONDS
// Writes the output of one infer() on INPUT to OUTPUT (checked against Torch by the caller;
// MIN_SECONDS = 0 stops there), then times one inference as timing.hxx says: with
// -DSOFIE_DOINFER (a model of one float input and one float output), the generated
// doInfer(session, input, output) into a buffer the caller owns, the call a program that
// scores events makes (and our RDataFrame scorer does); otherwise infer(), which also
// allocates, zero-fills and copies the output vectors on every call.
#include SOFIE_HEADER

#include "timing.hxx"

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

const std::vector<float> &flat(const std::vector<float> &v) { return v; }
std::vector<float> flat(const std::vector<std::vector<float>> &vs)
{
   std::vector<float> all;
   for (const auto &v : vs) all.insert(all.end(), v.begin(), v.end());
   return all;
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
   std::vector<float> x;
   if (!bench::read_floats(argv[2], x, n_input)) {
      std::fprintf(stderr, "cannot read %zu floats from %s\n", n_input, argv[2]);
      return 2;
   }

   SOFIE_NS::Session session(argv[1]);
   {
      const std::vector<float> y = flat(session.infer(x.data()));
      bench::write_floats(argv[4], y.data(), y.size());
   }
   if (min_seconds <= 0) return 0;  // a check-only run: wrong results are never timed

   volatile float sink = 0;  // keeps the calls from being optimised away
#ifdef SOFIE_DOINFER
   std::vector<float> y(flat(session.infer(x.data())).size());
   bench::time_and_report([&] {
      SOFIE_NS::doInfer(session, x.data(), y.data());
      sink = sink + y[0];
   }, min_seconds);
   // the timed path computes what was checked
   if (y != flat(session.infer(x.data()))) {
      std::fprintf(stderr, "doInfer and infer() disagree\n");
      return 3;
   }
#else
   bench::time_and_report([&] { sink = sink + flat(session.infer(x.data()))[0]; }, min_seconds);
#endif
   return 0;
}
