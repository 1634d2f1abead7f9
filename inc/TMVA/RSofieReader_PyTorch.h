// Inference inside ROOT in the spirit of ROOT's old RSofieReader: give it a PyTorch model
// and input shapes; it parses, generates, JIT-compiles the code with cling in the running
// process, and Compute() runs it.
//
//   SOFIE::PyTorch::Reader reader("model.pt", {{1, 4}});
//   std::vector<float> y = reader.Compute(x);          // one input, first output
//
// Fixed input shapes, float or int64 inputs; outputs are returned as float. C++17, so
// ROOT's interpreter can read it.
#ifndef TMVA_SOFIE_RSOFIEREADER_PYTORCH_H
#define TMVA_SOFIE_RSOFIEREADER_PYTORCH_H

#include "TMVA/RModelParser_PyTorch.h"

#include <string>
#include <vector>

namespace SOFIE {
namespace PyTorch {

/// Bind the BLAS routines that generated code calls (sgemm_, sgemv_, saxpy_, scopy_) to
/// OpenBLAS for code that cling compiles in this process, once; returns the library's
/// name. Needed because torch exports BLAS routines of its own under the same names.
/// Throws ParseError (kind "JitError") when no BLAS library can be loaded.
std::string BindBlasForCling();

class Reader {
public:
   Reader(const std::string &model, const std::vector<std::vector<size_t>> &inputShapes,
          const std::vector<ETensorType> &inputTypes = {});
   ~Reader();
   Reader(const Reader &) = delete;
   Reader &operator=(const Reader &) = delete;

   /// One float input; returns the first output.
   std::vector<float> Compute(const std::vector<float> &input);
   /// One vector per input (int64 inputs given as their values in float); all outputs.
   std::vector<std::vector<float>> Compute(const std::vector<std::vector<float>> &inputs);
   /// The C++ namespace the generated code lives in (unique per reader).
   const std::string &Namespace() const { return fNamespace; }

private:
   std::vector<std::vector<float>> Run(const std::vector<const void *> &inputs);

   std::string fNamespace;
   std::vector<size_t> fInputSizes;
   std::vector<ETensorType> fInputTypes;
   void *fSession = nullptr;
   void (*fDelete)(void *) = nullptr;
   void (*fInfer)(void *, const void *const *, std::vector<std::vector<float>> *) = nullptr;
};

} // namespace PyTorch
} // namespace SOFIE

#endif
