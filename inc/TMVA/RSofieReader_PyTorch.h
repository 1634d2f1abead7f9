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
   /// Parse a PyTorch model file (this project's parser), generate and compile its code.
   Reader(const std::string &model, const std::vector<std::vector<size_t>> &inputShapes,
          const std::vector<ETensorType> &inputTypes = {});
   /// Generate and compile the code of a model parsed already (by any SOFIE parser, e.g.
   /// the engine's ONNX parser). batchSize fixes a run-time batch dimension, as
   /// RModel::Generate does; every input must have a fixed shape after that.
   explicit Reader(RModel &model, int batchSize = -1);
   ~Reader();
   Reader(const Reader &) = delete;
   Reader &operator=(const Reader &) = delete;

   /// One float input; returns the first output.
   std::vector<float> Compute(const std::vector<float> &input);
   /// One vector per input (int64 inputs given as their values in float); all outputs.
   std::vector<std::vector<float>> Compute(const std::vector<std::vector<float>> &inputs);
   /// nInputs arrays of sizes[i] floats each; all outputs. Every size is checked before
   /// anything is read.
   std::vector<std::vector<float>> Compute(const float *const *inputs, const size_t *sizes, size_t nInputs);

   /// Compute may be called from several threads at once: each thread runs its own
   /// Session (made on its first call), with no lock around inference.
   /// How many Sessions were made so far.
   size_t SessionCount() const;
   /// The number of values each input takes.
   const std::vector<size_t> &InputSizes() const;
   /// The C++ namespace the generated code lives in (unique per reader).
   const std::string &Namespace() const;

private:
   struct Impl;
   void Build(RModel &model, int batchSize);
   Impl *fImpl = nullptr; // owned; a raw pointer keeps this header free of Impl's details
};

} // namespace PyTorch
} // namespace SOFIE

#endif
