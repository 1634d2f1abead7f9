// 1D/2D convolution, group 1 or depthwise, no dilation. Depthwise (group = channels =
// filters, MobileNet's): per channel, ConvPlanes on a one-channel image (for a stride above
// 1, at stride 1 into a work plane, then every stride-th pixel). Group 1, stride 1 with at most
// ConvPlanes::kMaxOutChannels (64) output channels: vectorised along the output pixels
// (ConvPlanes.hxx). Otherwise, per image, a copy into a zero-bordered buffer, im2row by
// plain copies (or, stride 1, the taps read from a padded NHWC copy), one packed GEMM
// (PackedGemm.hxx, the weights packed once per Session) into a pixels x OC result,
// transposed into the output.
// Node SofiePyTorchConv: inputs X (N, C, [H,] W), W (OC, C, [KH,] KW), [B (OC)], [R (the
// shape of Y)]; output Y = conv(X) [+ B] [+ R], then ReLU if the attribute relu is 1;
// attributes kernel_shape, pads (begins then ends), strides, as ONNX Conv, and relu.
// The bias is added in the GEMM's registers; the residual R and the ReLU as the image's
// result is transposed, while it is still in the L1 cache (fusion.py folds the Add and Relu
// nodes in).
//
// Why our own: SOFIE 0.1.0's Conv spends more time in im2col (a generic function that
// tests every element against the padding) than in its GEMMs, and copies its weights on
// every call; OpenBLAS then re-packs them on every call too. Here the padding lives in the
// buffer, so im2row is constant-length copies, and the weights are packed once.
#include "AlignedBuffer.hxx"
#include "ConvPlanes.hxx"
#include "NodeReading.hxx"
#include "Operators.hxx"
#include "PackedGemm.hxx"

#include "SOFIE/RModel.hxx"
#include "SOFIE/SOFIE_common.hxx"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace SOFIE {
namespace PyTorch {
namespace operators {

namespace {

class Conv final : public ROperator {
public:
   struct Spec {
      std::string x, w, b, y, residual;
      std::vector<size_t> kernel, pads, strides;
      size_t group = 1;
      bool relu = false;
   };

   explicit Conv(Spec spec) : fSpec(std::move(spec))
   {
      for (auto *name : {&fSpec.x, &fSpec.w, &fSpec.b, &fSpec.y, &fSpec.residual})
         if (!name->empty())
            *name = UTILITY::Clean_name(*name);
      fInputTensorNames = {fSpec.x, fSpec.w};
      if (!fSpec.b.empty())
         fInputTensorNames.emplace_back(fSpec.b);
      if (!fSpec.residual.empty())
         fInputTensorNames.emplace_back(fSpec.residual);
      fOutputTensorNames = {fSpec.y};
   }

   std::vector<std::string> GetStdLibs() override
   {
      auto libs = PackedGemm::StdLibs();
      libs.insert(libs.end(), {"algorithm", "cstring"});
      return libs;
   }

   void Initialize(RModel &model) override
   {
      const std::string what = "SofiePyTorch Conv operator: ";
      if (!model.UseSession())
         throw std::runtime_error(what + "needs the generated Session class (its work buffers live there)");
      for (const auto &name : fInputTensorNames)
         if (!model.CheckIfTensorAlreadyExist(std::string(name)))
            throw std::runtime_error(what + "tensor " + std::string(name) + " is not in the model");
      auto x = model.GetDimTensorShape(fSpec.x);
      auto w = model.GetTensorShape(fSpec.w);
      const size_t dims = fSpec.kernel.size();
      if ((dims != 1 && dims != 2) || x.size() != dims + 2 || w.size() != dims + 2 || fSpec.pads.size() != 2 * dims ||
          fSpec.strides.size() != dims)
         throw std::runtime_error(what + "takes 1D or 2D convolutions with kernel, pads and strides given");
      for (size_t i = 1; i < x.size(); ++i)
         if (x[i].isParam)
            throw std::runtime_error(what + "only the batch size may be chosen at run time");
      // A 1D convolution is a 2D one of height 1.
      fBatch = x[0];
      fChannels = x[1].dim;
      fHeight = dims == 2 ? x[2].dim : 1;
      fWidth = x.back().dim;
      fOutChannels = w[0];
      fKernelH = dims == 2 ? fSpec.kernel[0] : 1;
      fKernelW = fSpec.kernel.back();
      fPadTop = dims == 2 ? fSpec.pads[0] : 0;
      fPadBottom = dims == 2 ? fSpec.pads[2] : 0;
      fPadLeft = fSpec.pads[dims - 1];
      fPadRight = fSpec.pads[2 * dims - 1];
      fStrideH = dims == 2 ? fSpec.strides[0] : 1;
      fStrideW = fSpec.strides.back();
      fGroup = fSpec.group;
      if (fGroup != 1 && (fGroup != fChannels || w[0] != fChannels))
         throw std::runtime_error(what + "takes group 1 or depthwise convolutions (group = channels = filters)");
      if (w[1] * fGroup != fChannels || !std::equal(fSpec.kernel.begin(), fSpec.kernel.end(), w.begin() + 2))
         throw std::runtime_error(what + "weights " + fSpec.w + " do not match the input and kernel");
      if (fHeight + fPadTop + fPadBottom < fKernelH || fWidth + fPadLeft + fPadRight < fKernelW ||
          fStrideH == 0 || fStrideW == 0)
         throw std::runtime_error(what + "the kernel is larger than the padded input");
      if (!fSpec.b.empty() && ConvertShapeToLength(model.GetTensorShape(fSpec.b)) != fOutChannels)
         throw std::runtime_error(what + "bias " + fSpec.b + " must have one value per output channel");
      fOutH = (fHeight + fPadTop + fPadBottom - fKernelH) / fStrideH + 1;
      fOutW = (fWidth + fPadLeft + fPadRight - fKernelW) / fStrideW + 1;

      fPadded = fPadTop + fPadBottom + fPadLeft + fPadRight > 0;

      std::vector<Dim> y = {fBatch, Dim{fOutChannels}};
      if (dims == 2)
         y.emplace_back(fOutH);
      y.emplace_back(fOutW);
      if (!fSpec.residual.empty() && ConvertDimShapeToString(model.GetDimTensorShape(fSpec.residual)) !=
                                         ConvertDimShapeToString(y))
         throw std::runtime_error(what + "the residual " + fSpec.residual + " must have the output's shape");
      if (!model.CheckIfTensorAlreadyExist(fSpec.y))
         model.AddIntermediateTensor(fSpec.y, ETensorType::FLOAT, y);
   }

   std::string GenerateSessionMembersCode(std::string opName) override
   {
      // The padded image (its border stays zero: only the interior is ever written), the
      // im2row matrix of one image and its GEMM's result, each starting on a 64-byte
      // boundary; and the packed weights (filled by GenerateInitCode).
      const size_t total = ResultOffset() + WholeLines(ResultRows() * fOutChannels) + kAlignmentSlack;
      const std::string buffer = "fVec_op_" + opName + "_buffer";
      fPacked = "fPacked_op_" + opName;
      if (fGroup > 1)
         return "std::vector<float> " + buffer + " = std::vector<float>(" +
                std::to_string(Channel().PlaneFloats() + FullPlane() + 2 * kAlignmentSlack) + ");\nfloat *fVec_op_" +
                opName + "_work = " + AlignedStart(buffer) + ";\nstd::vector<float> " + fPacked +
                "_storage = std::vector<float>(" + std::to_string(fChannels * Channel().PackedFloats()) +
                ");\nconst float *" + fPacked + " = " + fPacked + "_storage.data();\n";
      if (UsePlanes())
         return "std::vector<float> " + buffer + " = std::vector<float>(" +
                std::to_string(Planes().PlaneFloats() + kAlignmentSlack) + ");\nfloat *fVec_op_" + opName +
                "_work = " + AlignedStart(buffer) + ";\nstd::vector<float> " + fPacked + "_storage = std::vector<float>(" +
                std::to_string(Planes().PackedFloats() + kAlignmentSlack) + ");\nconst float *" + fPacked + " = " +
                AlignedStart(fPacked + "_storage") + ";\n";
      return "std::vector<float> " + buffer + " = std::vector<float>(" + std::to_string(total) + ");\nfloat *fVec_op_" +
             opName + "_work = " + AlignedStart(buffer) + ";\n" + Gemm().MemberCode(fPacked);
   }

   std::string GenerateInitCode() override
   {
      const std::string bias = fSpec.b.empty() ? "" : "tensor_" + fSpec.b;
      if (fGroup > 1) {
         // Channel c's filter and bias, packed as a one-channel ConvPlanes at c * floats.
         const std::string floats = std::to_string(Channel().PackedFloats());
         return "   for (std::size_t sp_dc = 0; sp_dc < " + std::to_string(fChannels) + "; ++sp_dc) {\n" +
                "      float *sp_dst = " + fPacked + "_storage.data() + sp_dc * " + floats + ";\n" +
                Channel().PackCode("sp_dst", "(tensor_" + fSpec.w + " + sp_dc * " +
                                               std::to_string(fKernelH * fKernelW) + ")",
                                   bias.empty() ? "" : "(" + bias + " + sp_dc)", "      ") +
                "   }\n";
      }
      if (UsePlanes())
         return "   {\n      float *sp_dst = " + AlignedStart(fPacked + "_storage") + ";\n" +
                Planes().PackCode("sp_dst", "tensor_" + fSpec.w, bias, "      ") + "   }\n";
      // im2row: W (OC x C*KH*KW) is the GEMM's right operand transposed: element (k, o) at
      // W[o * depth + k].
      if (!Direct())
         return Gemm().PackCode(fPacked, "tensor_" + fSpec.w, 1, Depth(), bias);
      // Direct: the GEMM's k runs over the taps, then the channels: (tap * C + c, o).
      const size_t taps = fKernelH * fKernelW;
      return "   {\n      std::vector<float> sp_wt(" + std::to_string(Depth() * fOutChannels) +
             ");\n      for (std::size_t sp_o = 0; sp_o < " + std::to_string(fOutChannels) +
             "; ++sp_o)\n         for (std::size_t sp_c = 0; sp_c < " + std::to_string(fChannels) +
             "; ++sp_c)\n            for (std::size_t sp_t = 0; sp_t < " + std::to_string(taps) +
             "; ++sp_t)\n               sp_wt[(sp_t * " + std::to_string(fChannels) + " + sp_c) * " +
             std::to_string(fOutChannels) + " + sp_o] = tensor_" + fSpec.w + "[(sp_o * " + std::to_string(fChannels) +
             " + sp_c) * " + std::to_string(taps) + " + sp_t];\n" +
             Gemm().PackCode(fPacked, "sp_wt.data()", fOutChannels, 1, bias, "      ") + "   }\n";
   }

   std::string Generate(std::string opName) override
   {
      if (fGroup > 1)
         return GenerateDepthwise(opName);
      if (UsePlanes())
         return GeneratePlanes(opName);
      const size_t hw = fOutH * fOutW, imageSize = fChannels * fHeight * fWidth;
      const size_t rows = fHeight + fPadTop + fPadBottom, cols = fWidth + fPadLeft + fPadRight;
      const std::string in = "      ";
      std::ostringstream out;
      out << "   // SofiePyTorch Conv: " << fChannels << "x" << fHeight << "x" << fWidth << " -> " << fOutChannels << "x"
          << fOutH << "x" << fOutW << ", kernel " << fKernelH << "x" << fKernelW << "\n"
          << "   {\n"
          << in << "float *sp_work = this->fVec_op_" << opName << "_work;\n"
          << (Direct() ? "" : in + "float *sp_rows = sp_work + " + std::to_string(RowsOffset()) + ";\n")
          << in << "float *sp_yt = sp_work + " << ResultOffset() << ";\n"
          << in << "for (size_t sp_n = 0; sp_n < " << fBatch.GetVal() << "; ++sp_n) {\n"
          << in << "   const float *sp_img = tensor_" << fSpec.x << " + sp_n * " << imageSize << ";\n"
          << in << "   float *sp_y = tensor_" << fSpec.y << " + sp_n * " << fOutChannels * hw << ";\n";
      PackedGemmCall call;
      if (Direct()) {
         // The image, transposed into the interior of the zero-bordered NHWC buffer: a
         // pixel's channels are then contiguous, and the GEMM reads each tap (kh, kw) of
         // output pixel q (in the padded grid's numbering) at q + kh * cols + kw: no im2row.
         out << in << "   for (size_t sp_c = 0; sp_c < " << fChannels << "; ++sp_c)\n"
             << in << "      for (size_t sp_h = 0; sp_h < " << fHeight << "; ++sp_h)\n"
             << in << "         for (size_t sp_w = 0; sp_w < " << fWidth << "; ++sp_w)\n"
             << in << "            sp_work[((sp_h + " << fPadTop << ") * " << cols << " + sp_w + " << fPadLeft << ") * "
             << fChannels << " + sp_c] = sp_img[(sp_c * " << fHeight << " + sp_h) * " << fWidth << " + sp_w];\n";
         for (size_t kh = 0; kh < fKernelH; ++kh)
            for (size_t kw = 0; kw < fKernelW; ++kw)
               call.runs.emplace_back(fChannels, (kh * cols + kw) * fChannels);
         call.a = "sp_work";
         call.lda = std::to_string(fChannels);
         // Output pixel (oh, ow) reads from padded pixel oh * cols + ow: the GEMM's rows skip
         // the padding columns (computing them cost 44% more rows on a 3x3 image, 15% on 12x12).
         if (cols != fOutW) {
            call.rowGroup = fOutW;
            call.groupStride = cols;
         }
      } else {
         std::string source = "sp_img";
         if (fPadded) {
            // Copy the image into the interior of the zero-bordered buffer.
            out << in << "   for (size_t sp_r = 0; sp_r < " << fChannels * fHeight << "; ++sp_r)\n"
                << in << "      std::memcpy(sp_work + (sp_r / " << fHeight << " * " << rows << " + sp_r % " << fHeight
                << " + " << fPadTop << ") * " << cols << " + " << fPadLeft << ", sp_img + sp_r * " << fWidth << ", "
                << fWidth << " * sizeof(float));\n";
            source = "sp_work";
         }
         // im2row: row (oh, ow) holds the patch (c, kh, kw) under that output pixel. With
         // the padding in the buffer, every element is a plain copy.
         out << in << "   for (size_t sp_oh = 0; sp_oh < " << fOutH << "; ++sp_oh)\n"
             << in << "      for (size_t sp_ow = 0; sp_ow < " << fOutW << "; ++sp_ow) {\n"
             << in << "         float *sp_dst = sp_rows + (sp_oh * " << fOutW << " + sp_ow) * " << Depth() << ";\n"
             << in << "         const float *sp_src = " << source << " + sp_oh * " << fStrideH * cols << " + sp_ow * "
             << fStrideW << ";\n"
             << in << "         for (size_t sp_c = 0; sp_c < " << fChannels << "; ++sp_c)\n"
             << in << "            for (size_t sp_kh = 0; sp_kh < " << fKernelH << "; ++sp_kh)\n"
             << in << "               for (size_t sp_kw = 0; sp_kw < " << fKernelW << "; ++sp_kw)\n"
             << in << "                  sp_dst[(sp_c * " << fKernelH << " + sp_kh) * " << fKernelW
             << " + sp_kw] = sp_src[(sp_c * " << rows << " + sp_kh) * " << cols << " + sp_kw];\n"
             << in << "      }\n";
         call.a = "sp_rows";
         call.lda = std::to_string(Depth());
      }
      // Y^T (pixels x OC) = rows (pixels x C*KH*KW) . W^T [+ bias] [ReLU when no residual
      // follows], on the packed GEMM; then transposed into the image's NCHW output, with
      // the residual and ReLU, while it is still in the L1 cache.
      const bool reluInGemm = fSpec.relu && fSpec.residual.empty();
      call.m = std::to_string(ResultRows());
      call.packed = "this->" + fPacked;
      call.bias = !fSpec.b.empty();
      call.c = "sp_yt";
      call.ldc = std::to_string(fOutChannels);
      call.relu = reluInGemm;
      call.indent = in + "   ";
      out << Gemm().CallCode(call);
      // Output pixel q = oh * OW + ow is the result's row q. Transposed in blocks of
      // `block` pixels: each block's rows (block x OC floats, at most 16 kB) stay in L1 while
      // every channel takes its run of them. (Channel after channel over all pixels, each
      // read touched a new line: ResNet-18's 7x7 stem, 2304 pixels x 64 channels, 4% of the
      // layer's time, -O2 -march=x86-64-v3.)
      const size_t block = std::min<size_t>(hw, std::max<size_t>(1, std::min<size_t>(64, 4096 / fOutChannels)));
      std::string value = "sp_yt[sp_q * " + std::to_string(fOutChannels) + " + sp_o]";
      if (!fSpec.residual.empty())
         value += " + tensor_" + fSpec.residual + "[sp_n * " + std::to_string(fOutChannels * hw) + " + sp_o * " +
                  std::to_string(hw) + " + sp_q]";
      out << in << "   for (size_t sp_q0 = 0; sp_q0 < " << hw << "; sp_q0 += " << block << ") {\n"
          << in << "      const size_t sp_q1 = std::min<size_t>(sp_q0 + " << block << ", " << hw << ");\n"
          << in << "      for (size_t sp_o = 0; sp_o < " << fOutChannels << "; ++sp_o)\n"
          << in << "         for (size_t sp_q = sp_q0; sp_q < sp_q1; ++sp_q) {\n"
          << in << "            const float sp_v = " << value << ";\n"
          << in << "            sp_y[sp_o * " << hw << " + sp_q] = "
          << (fSpec.relu && !reluInGemm ? "sp_v > 0.0f ? sp_v : 0.0f" : "sp_v") << ";\n"
          << in << "         }\n"
          << in << "   }\n"
          << in << "}\n"
          << "   }\n";
      return out.str();
   }

private:
   // One image after the other through ConvPlanes: NCHW in and out, no transposes.
   std::string GeneratePlanes(const std::string &opName) const
   {
      const size_t imageSize = fChannels * fHeight * fWidth, outSize = fOutChannels * fOutH * fOutW;
      ConvPlanesCall call;
      call.image = "tensor_" + fSpec.x + " + sp_n * " + std::to_string(imageSize);
      call.out = "tensor_" + fSpec.y + " + sp_n * " + std::to_string(outSize);
      if (!fSpec.residual.empty())
         call.residual = "tensor_" + fSpec.residual + " + sp_n * " + std::to_string(outSize);
      call.relu = fSpec.relu;
      call.planes = "this->fVec_op_" + opName + "_work";
      call.packed = "this->" + fPacked;
      call.bias = !fSpec.b.empty();
      call.indent = "      ";
      return "   // SofiePyTorch Conv: " + std::to_string(fChannels) + "x" + std::to_string(fHeight) + "x" +
             std::to_string(fWidth) + " -> " + std::to_string(fOutChannels) + "x" + std::to_string(fOutH) + "x" +
             std::to_string(fOutW) + ", kernel " + std::to_string(fKernelH) + "x" + std::to_string(fKernelW) +
             "\n   for (size_t sp_n = 0; sp_n < " + fBatch.GetVal() + "; ++sp_n)\n" + Planes().ImageCode(call);
   }
   // Depthwise: each channel through ConvPlanes as a one-channel image, at stride 1; with a
   // larger stride into a work plane (after the shifted planes), then subsampled.
   std::string GenerateDepthwise(const std::string &opName) const
   {
      const size_t plane = fHeight * fWidth, outPlane = fOutH * fOutW, fullW = Channel().Geometry().OutW();
      const bool strided = !Direct();
      const std::string work = "this->fVec_op_" + opName + "_work";
      const std::string image = "(sp_n * " + std::to_string(fChannels) + " + sp_dc)";
      ConvPlanesCall call;
      call.image = "tensor_" + fSpec.x + " + " + image + " * " + std::to_string(plane);
      call.out = strided ? work + " + " + std::to_string(WholeLines(Channel().PlaneFloats()))
                         : "tensor_" + fSpec.y + " + " + image + " * " + std::to_string(outPlane);
      if (!fSpec.residual.empty() && !strided)
         call.residual = "tensor_" + fSpec.residual + " + " + image + " * " + std::to_string(outPlane);
      call.relu = fSpec.relu; // max(., 0) commutes with the subsampling
      call.planes = work;
      call.packed = "this->" + fPacked + " + sp_dc * " + std::to_string(Channel().PackedFloats());
      call.bias = !fSpec.b.empty();
      call.indent = "         ";
      std::ostringstream out;
      out << "   // SofiePyTorch Conv (depthwise): " << fChannels << "x" << fHeight << "x" << fWidth << " -> "
          << fOutChannels << "x" << fOutH << "x" << fOutW << ", kernel " << fKernelH << "x" << fKernelW << ", stride "
          << fStrideH << "x" << fStrideW << "\n"
          << "   for (size_t sp_n = 0; sp_n < " << fBatch.GetVal() << "; ++sp_n)\n"
          << "      for (std::size_t sp_dc = 0; sp_dc < " << fChannels << "; ++sp_dc) {\n"
          << Channel().ImageCode(call);
      if (strided) {
         std::string value = "sp_full[sp_oh * " + std::to_string(fStrideH * fullW) + " + sp_ow * " +
                             std::to_string(fStrideW) + "]";
         if (!fSpec.residual.empty())
            value += " + tensor_" + fSpec.residual + "[" + image + " * " + std::to_string(outPlane) + " + sp_oh * " +
                     std::to_string(fOutW) + " + sp_ow]";
         out << "         const float *const sp_full = " << call.out << ";\n"
             << "         float *const sp_y = tensor_" << fSpec.y << " + " << image << " * " << outPlane << ";\n"
             << "         for (std::size_t sp_oh = 0; sp_oh < " << fOutH << "; ++sp_oh)\n"
             << "            for (std::size_t sp_ow = 0; sp_ow < " << fOutW << "; ++sp_ow) {\n"
             << "               const float sp_v = " << value << ";\n"
             << "               sp_y[sp_oh * " << fOutW << " + sp_ow] = "
             << (fSpec.relu && !fSpec.residual.empty() ? "sp_v > 0.0f ? sp_v : 0.0f" : "sp_v") << ";\n"
             << "            }\n";
      }
      out << "      }\n";
      return out.str();
   }
   // One channel of a depthwise convolution, at stride 1.
   ConvPlanes Channel() const
   {
      return ConvPlanes({1, fHeight, fWidth, 1, fKernelH, fKernelW, fPadTop, fPadBottom, fPadLeft, fPadRight});
   }
   // Floats of the stride-1 output plane of a strided depthwise convolution (0 otherwise).
   size_t FullPlane() const { return Direct() ? 0 : WholeLines(Channel().Geometry().OutH() * Channel().Geometry().OutW()); }
   // ConvPlanes for few output channels, and for 1x1 convolutions of any width on images of
   // at least kMinPointwisePixels pixels (the GEMM's way transposes the image in and the
   // result out: ParticleNet's EdgeConv, 256 channels on 128 x 16 points, A/B in the commit).
   bool UsePlanes() const
   {
      return Direct() && (fOutChannels <= ConvPlanes::kMaxOutChannels ||
                          (fKernelH == 1 && fKernelW == 1 && fOutH * fOutW >= kMinPointwisePixels));
   }
   static constexpr size_t kMinPointwisePixels = 64;
   ConvPlanes Planes() const
   {
      return ConvPlanes({fChannels, fHeight, fWidth, fOutChannels, fKernelH, fKernelW, fPadTop, fPadBottom, fPadLeft,
                         fPadRight});
   }
   size_t Depth() const { return fChannels * fKernelH * fKernelW; }
   size_t PaddedImage() const { return fChannels * (fHeight + fPadTop + fPadBottom) * (fWidth + fPadLeft + fPadRight); }
   // Stride 1: the GEMM reads the taps from the padded NHWC image (PackedGemmCall::runs);
   // otherwise from an im2row matrix.
   bool Direct() const { return fStrideH == 1 && fStrideW == 1; }
   // Where the im2row matrix starts (after the padded image) and the GEMM's result (after
   // it), on 64-byte boundaries.
   size_t RowsOffset() const { return fPadded || Direct() ? WholeLines(PaddedImage()) : 0; }
   size_t ResultOffset() const { return RowsOffset() + (Direct() ? 0 : WholeLines(fOutH * fOutW * Depth())); }
   // The GEMM's rows: the output pixels (direct, A's rows in groups of OW, one per output
   // row of the padded grid: PackedGemmCall::rowGroup).
   size_t ResultRows() const { return fOutH * fOutW; }
   PackedGemm Gemm() const { return PackedGemm(Depth(), fOutChannels, !Direct()); }

   Spec fSpec;
   Dim fBatch;
   size_t fChannels = 0, fHeight = 0, fWidth = 0, fOutChannels = 0, fKernelH = 0, fKernelW = 0;
   size_t fPadTop = 0, fPadBottom = 0, fPadLeft = 0, fPadRight = 0, fStrideH = 1, fStrideW = 1, fGroup = 1;
   size_t fOutH = 0, fOutW = 0;
   bool fPadded = false;
   std::string fPacked;
};

} // namespace

std::unique_ptr<ROperator> ParseConv(RModelParser_ONNX &parser, const onnx::NodeProto &node)
{
   FloatOnly(parser, node);
   Conv::Spec spec;
   spec.x = InputOrEmpty(node, 0);
   spec.w = InputOrEmpty(node, 1);
   spec.b = InputOrEmpty(node, 2);
   spec.y = node.output(0);
   spec.kernel = IntsAttribute(node, "kernel_shape");
   spec.pads = IntsAttribute(node, "pads");
   spec.strides = IntsAttribute(node, "strides");
   spec.residual = InputOrEmpty(node, 3);
   for (int i = 0; i < node.attribute_size(); ++i) {
      if (node.attribute(i).name() == "relu")
         spec.relu = node.attribute(i).i() != 0;
      if (node.attribute(i).name() == "group")
         spec.group = static_cast<size_t>(node.attribute(i).i());
   }
   return std::make_unique<Conv>(std::move(spec));
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
