// Times one AOTInductor package (torch._inductor.aoti_compile_and_package on the exported
// model) from C++, as a user deploying it would: torch::inductor::AOTIModelPackageLoader,
// linked with the torch wheel's own libtorch, single-threaded. Built once (aoti.py).
// Usage: aoti_driver PACKAGE.pt2 INPUT.bin D0,D1,... OUTPUT.bin MIN_SECONDS
// Writes the first output of one run on INPUT (shape D0xD1x...) to OUTPUT, then times
// runs as timing.hxx says (MIN_SECONDS = 0 stops after the output).
#include "timing.hxx"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char **argv)
{
   if (argc != 6) {
      std::fprintf(stderr, "usage: %s PACKAGE.pt2 INPUT.bin D0,D1,... OUTPUT.bin MIN_SECONDS\n", argv[0]);
      return 2;
   }
   try {
      std::vector<int64_t> shape;
      std::stringstream dims(argv[3]);
      for (std::string d; std::getline(dims, d, ',');)
         shape.push_back(std::stoll(d));
      std::size_t n = 1;
      for (auto d : shape)
         n *= static_cast<std::size_t>(d);
      std::vector<float> data;
      if (!bench::read_floats(argv[2], data, n)) {
         std::fprintf(stderr, "cannot read %zu floats from %s\n", n, argv[2]);
         return 2;
      }
      const double min_seconds = std::strtod(argv[5], nullptr);
      at::set_num_threads(1);
      at::InferenceMode guard;
      // run_single_threaded: no runner thread pool; the kernels were generated for one
      // thread (the benchmark compiles with torch.set_num_threads(1)).
      torch::inductor::AOTIModelPackageLoader loader(argv[1], "model", /*run_single_threaded=*/true);
      const std::vector<at::Tensor> inputs = {at::from_blob(data.data(), shape, at::kFloat)};
      {
         const at::Tensor y = loader.run(inputs)[0].contiguous();
         bench::write_floats(argv[4], y.data_ptr<float>(), static_cast<std::size_t>(y.numel()));
      }
      if (min_seconds <= 0)
         return 0;
      volatile float sink = 0;
      bench::time_and_report([&] { sink = sink + loader.run(inputs)[0].data_ptr<float>()[0]; }, min_seconds);
   } catch (const std::exception &e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
   }
   return 0;
}
