// A stride-1 convolution with few output channels, vectorised along the output pixels:
// the generated code for SofiePyTorchConv (Conv.cxx) when OC <= ConvPlanes::kMaxOutChannels.
//
// Why: the packed GEMM (PackedGemm.hxx) vectorises along the output channels. With 16 of
// them (the zoo's residual block) its tile is one vector wide, so every FMA waits on its own
// broadcast load of an input pixel, and the NHWC copy it reads computes the padding columns
// too (22% of its rows on 8x8 images) and needs a transpose in and one out. Here the vector
// runs along the output pixels of one channel, which is NCHW order: no transpose, and the
// result is stored with bias, residual and ReLU straight from the registers.
//
// Per image: for each input channel c and kernel column kw, a "shifted plane" holds the
// zero-padded image's rows, each cut to the OW columns that output column ow reads through
// kw (plane[c][kw][hp][ow] = padded[c][hp][ow + kw]). Output pixel q = oh * OW + ow reads tap
// (kh, kw) at plane[c][kw][q + kh * OW]: every tap of a run of output pixels is one
// contiguous load. A register tile is kOutGroup output channels x V vectors of pixels (the
// weights are broadcast, the pixel vectors loaded once for the kOutGroup channels), V chosen
// per target in the generated code (VectorTargets.hxx; the weights' layout does not depend
// on it). The planes' padding is zero from the Session's constructor on; only
// the image's columns are copied in on each call.
//
// Measured on the zoo's residual block (CPU time, bench/README.md): batch 64, the
// convolutions alone 435 µs with the NHWC GEMM, 255-261 µs here (about 145 GFLOP/s, 85% of
// the core's FP32 peak); through the Session's infer() 573-611 -> 400-421 µs; batch 1
// 6.95 -> 4.35 µs.
#ifndef SOFIE_PYTORCH_OPERATORS_CONVPLANES_HXX
#define SOFIE_PYTORCH_OPERATORS_CONVPLANES_HXX

#include <cstddef>
#include <string>

namespace SOFIE {
namespace PyTorch {
namespace operators {

struct VectorTarget;

/// A 2D convolution (a 1D one is one of height 1), group 1, no dilation, stride 1.
struct ConvGeometry {
   std::size_t channels, height, width, outChannels, kernelH, kernelW;
   std::size_t padTop, padBottom, padLeft, padRight;
   std::size_t OutH() const { return height + padTop + padBottom - kernelH + 1; }
   std::size_t OutW() const { return width + padLeft + padRight - kernelW + 1; }
};

/// What the per-image code reads and writes (C++ expressions of the generated function).
struct ConvPlanesCall {
   std::string image;    ///< const float * to the image (C x H x W)
   std::string out;      ///< float * to the output image (OC x OH x OW)
   std::string residual; ///< const float * to a tensor added to the output, or ""
   bool relu = false;    ///< max(., 0) last
   std::string planes;   ///< float * to the work buffer (PlaneFloats, zero-initialised)
   std::string packed;   ///< const float * to the packed weights (PackCode)
   bool bias = false;    ///< add the bias packed with the weights
   std::string indent = "   ";
};

class ConvPlanes {
public:
   /// Output channels up to which Conv.cxx uses this kernel (beyond, the packed GEMM's
   /// panels are several vectors wide and reuse each broadcast). Measured, 16 -> OC 3x3 on
   /// 8x8, batch 64, bench driver: OC 32 594 µs here against 665 on the GEMM, OC 64 1210
   /// against 1436; wider layers were not measured.
   static constexpr std::size_t kMaxOutChannels = 64;
   /// Output channels of one register tile (every target).
   static constexpr std::size_t kOutGroup = 4;

   explicit ConvPlanes(const ConvGeometry &geometry);
   const ConvGeometry &Geometry() const { return fGeometry; }

   /// Floats of the work buffer (the shifted planes), zero when the Session is made.
   std::size_t PlaneFloats() const { return fGeometry.channels * fGeometry.kernelW * PlaneStride(); }
   /// Floats of the packed weights and bias.
   std::size_t PackedFloats() const { return Depth() * fGeometry.outChannels + fGeometry.outChannels; }
   /// Constructor code: fill `packed` (a float * to PackedFloats() floats) from W (OC x C x KH
   /// x KW, ONNX order) and the bias (OC floats, "" for none).
   std::string PackCode(const std::string &packed, const std::string &w, const std::string &bias,
                        const std::string &indent) const;
   /// Inference code for one image. Needs <cmath>, <cstddef>, <cstring>.
   std::string ImageCode(const ConvPlanesCall &call) const;

private:
   std::size_t Depth() const { return fGeometry.channels * fGeometry.kernelH * fGeometry.kernelW; }
   std::size_t Pixels() const { return fGeometry.OutH() * fGeometry.OutW(); }
   // Floats between planes: the padded rows, plus what the last vector of pixels reads
   // beyond the last output pixel (vectors of up to 16), on an odd number of cache lines
   // (no 4 kB aliasing between planes).
   std::size_t PlaneStride() const;
   std::string TargetCode(const ConvPlanesCall &call, const VectorTarget &target) const;

   ConvGeometry fGeometry;
};

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE

#endif
