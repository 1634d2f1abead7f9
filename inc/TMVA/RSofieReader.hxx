// TMVA::Experimental::RSofieReader with ROOT's interface, for PyTorch and ONNX models:
//
//   using namespace TMVA::Experimental;
//   RSofieReader model("model.pt", {{1, 7}});              // .pt/.pt2 need the shapes
//   std::vector<float> y = model.Compute(x);                // first output
//   df.Define("score", Compute<7, float>(model), columns);  // RDataFrame
//
// .pt, .pth and .pt2 go through this project's PyTorch parser; .onnx through the
// engine's own ONNX parser. The code is generated and compiled by cling in this process
// (SOFIE::PyTorch::Reader does the work).
//
// Unlike ROOT's reader, the path is only data (never pasted into code handed to the
// interpreter), and Compute may be called from several threads at once: each thread runs
// its own Session, with no lock around inference. C++17, so that cling reads it.
#ifndef TMVA_RSOFIEREADER
#define TMVA_RSOFIEREADER

#include "TMVA/RSofieReader_PyTorch.h"
#include "TMVA/RTensor.hxx"

#include <array>
#include <initializer_list>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace TMVA {
namespace Experimental {

class RSofieReader {
public:
   /// inputShapes: one shape per input, needed for PyTorch files; for ONNX only the first
   /// dimension of the first shape is used, as the batch size of a model whose batch
   /// size is not fixed (1 when none is given). verbose: 1 prints the model's tensors,
   /// 2 also the generated code (and the ONNX parser's messages). Without a path (ROOT's
   /// RSofieReader()), the reader is empty: Load() a model before Compute.
   ///
   /// One constructor and one Compute per number of arguments, not templates: PyROOT
   /// then raises the C++ exception itself (a template overload beside it would turn
   /// every error into a TypeError listing the attempts).
   RSofieReader(const std::string &path = "", std::vector<std::vector<size_t>> inputShapes = {}, int verbose = 0)
   {
      if (!path.empty())
         Load(path, inputShapes, verbose);
   }
   // Not copied or moved (Compute<N, T> keeps a pointer to it); deleted rather than
   // implicit also keeps them out of PyROOT's overloads of the constructor.
   RSofieReader(const RSofieReader &) = delete;
   RSofieReader &operator=(const RSofieReader &) = delete;

   /// Parse, generate and compile a model (replacing the one loaded before). Throws a
   /// std::runtime_error (SOFIE::PyTorch::ParseError) naming the problem.
   void Load(const std::string &path, std::vector<std::vector<size_t>> inputShapes = {}, int verbose = 0);

   /// One input; returns the model's first output.
   std::vector<float> Compute(const std::vector<float> &x) { return ComputeArray(x.data(), x.size()); }

   /// Several inputs, one std::vector<float> each, in the model's order; first output.
   std::vector<float> Compute(const std::vector<float> &x1, const std::vector<float> &x2) { return ComputeN({&x1, &x2}); }
   std::vector<float> Compute(const std::vector<float> &x1, const std::vector<float> &x2, const std::vector<float> &x3)
   {
      return ComputeN({&x1, &x2, &x3});
   }
   std::vector<float> Compute(const std::vector<float> &x1, const std::vector<float> &x2, const std::vector<float> &x3,
                              const std::vector<float> &x4)
   {
      return ComputeN({&x1, &x2, &x3, &x4});
   }
   /// Any number of inputs, all outputs.
   std::vector<std::vector<float>> ComputeAll(const std::vector<std::vector<float>> &inputs)
   {
      return Loaded().Compute(inputs);
   }

   /// A batch: x has shape {nevents, nfeatures...}; each event is run through the model
   /// (one input). Returns {nevents, noutputs} (row-major).
   RTensor<float> Compute(RTensor<float> &x);

   /// N values of one input, without an intermediate std::vector (used by Compute<N, T>).
   std::vector<float> ComputeArray(const float *x, size_t n)
   {
      return First(Loaded().Compute(&x, &n, 1));
   }

   /// The number of model inputs (0 before Load).
   size_t GetNInputs() const { return fReader ? fReader->InputSizes().size() : 0; }
   /// The engine reader doing the work (Sessions made, namespace of the generated code).
   const SOFIE::PyTorch::Reader &GetReader() const { return Loaded(); }

private:
   SOFIE::PyTorch::Reader &Loaded() const;
   std::vector<float> ComputeN(std::initializer_list<const std::vector<float> *> inputs);
   static std::vector<float> First(std::vector<std::vector<float>> &&outputs);

   std::unique_ptr<SOFIE::PyTorch::Reader> fReader;
};

namespace Internal {

/// The callable Compute<N, T>(reader) returns: N column values in, the model's first
/// output out, as RDataFrame::Define wants it. RDataFrame calls it from all its threads;
/// the reader gives each thread its own Session.
template <typename I, typename T>
class SofieReaderCompute;

template <std::size_t... Idx, typename T>
class SofieReaderCompute<std::index_sequence<Idx...>, T> {
   template <std::size_t>
   using AlwaysT = T;
   RSofieReader *fReader;

public:
   explicit SofieReaderCompute(RSofieReader &reader) : fReader(&reader) {}
   std::vector<float> operator()(AlwaysT<Idx>... args) const
   {
      const std::array<float, sizeof...(Idx)> x{{static_cast<float>(args)...}};
      return fReader->ComputeArray(x.data(), x.size());
   }
};

} // namespace Internal

/// ROOT's helper for RDataFrame::Define: Define("y", Compute<7, float>(reader), columns).
/// The reader must outlive the event loop.
template <std::size_t N, typename T>
Internal::SofieReaderCompute<std::make_index_sequence<N>, T> Compute(RSofieReader &reader)
{
   return Internal::SofieReaderCompute<std::make_index_sequence<N>, T>(reader);
}

} // namespace Experimental
} // namespace TMVA

#endif
