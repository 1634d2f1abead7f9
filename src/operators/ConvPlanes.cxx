#include "ConvPlanes.hxx"

#include "AlignedBuffer.hxx"
#include "PackedGemm.hxx"
#include "VectorTargets.hxx"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace SOFIE {
namespace PyTorch {
namespace operators {

namespace {

std::string Str(std::size_t n)
{
   return std::to_string(n);
}

} // namespace

ConvPlanes::ConvPlanes(const ConvGeometry &geometry) : fGeometry(geometry)
{
   const auto &g = fGeometry;
   if (g.channels == 0 || g.outChannels == 0 || g.kernelH == 0 || g.kernelW == 0 ||
       g.height + g.padTop + g.padBottom < g.kernelH || g.width + g.padLeft + g.padRight < g.kernelW)
      throw std::runtime_error("ConvPlanes: empty convolution or kernel larger than the padded input");
}

std::size_t ConvPlanes::PlaneStride() const
{
   const std::size_t rows = fGeometry.height + fGeometry.padTop + fGeometry.padBottom;
   const std::size_t lines = WholeLines(rows * fGeometry.OutW() + WholeLines(Pixels()) - Pixels()) / 16;
   // An odd number of lines: a tile reads one run of pixels from every plane, and planes
   // a multiple of 4 kB apart map to the same L1 sets (ParticleNet's 1x1 convolutions of
   // 256 channels on 128 x 16 points: 8 kB planes, 256 reads in the 8 ways of one set).
   return (lines | 1) * 16;
}

std::string ConvPlanes::PackCode(const std::string &packed, const std::string &w, const std::string &bias,
                                 const std::string &indent) const
{
   // Weights of output channel o in its group of kOutGroup (fewer in the last group): at
   // o0 * Depth + ((c * KH + kh) * KW + kw) * group size + (o - o0), o0 the group's first.
   const std::size_t oc = fGeometry.outChannels, depth = Depth(), group = kOutGroup;
   std::ostringstream out;
   out << indent << "// Pack " << oc << "x" << depth << " convolution weights in groups of " << group
       << " output channels (ConvPlanes)\n"
       << indent << "for (std::size_t sp_o = 0; sp_o < " << oc << "; ++sp_o) {\n"
       << indent << "   const std::size_t sp_o0 = sp_o / " << group << " * " << group
       << ", sp_size = std::min<std::size_t>(" << group << ", " << oc << " - sp_o0);\n"
       << indent << "   for (std::size_t sp_k = 0; sp_k < " << depth << "; ++sp_k)\n"
       << indent << "      " << packed << "[sp_o0 * " << depth << " + sp_k * sp_size + sp_o - sp_o0] = " << w << "[sp_o * "
       << depth << " + sp_k];\n";
   if (!bias.empty())
      out << indent << "   " << packed << "[" << oc * depth << " + sp_o] = " << bias << "[sp_o];\n";
   out << indent << "}\n";
   return out.str();
}

std::string ConvPlanes::TargetCode(const ConvPlanesCall &call, const VectorTarget &target) const
{
   // kOutGroup channels x `vectors` vectors of pixels: 16 of 24 accumulators with 32
   // registers, 8 of 12 with 16.
   const std::size_t lanes = target.lanes, vectors = target.budget >= 24 ? 4 : 2;
   const auto &g = fGeometry;
   const std::size_t oc = g.outChannels, pixels = Pixels(), depth = Depth(), stride = PlaneStride();
   const std::size_t pixelVectors = (pixels + lanes - 1) / lanes;
   // Chunks of `vectors` vectors of pixels; the last chunk (1..vectors vectors) apart, its
   // last vector maybe partial. Groups of kOutGroup output channels; the last maybe fewer.
   const std::size_t fullChunks = (pixelVectors - 1) / vectors, lastVectors = pixelVectors - fullChunks * vectors;
   const std::size_t lastLanes = pixels - (pixelVectors - 1) * lanes;
   const std::size_t fullGroups = oc / kOutGroup, lastGroup = oc % kOutGroup;
   const std::string &in = call.indent;
   std::ostringstream out;

   // The lambda sp_tile<o>x<v>[_last](o0, q0): output channels o0.. (o of them) at pixels
   // q0.. (v vectors; _last: the last chunk, whose last vector holds lastLanes pixels).
   auto tileName = [&](std::size_t group, std::size_t count, bool last) {
      return "sp_tile" + Str(group) + "x" + Str(count) + (last ? "_last" : "");
   };
   auto emitTile = [&](std::size_t group, std::size_t count, bool last) {
      auto acc = [](std::size_t o, std::size_t v) { return "sp_a" + Str(o) + "_" + Str(v); };
      const std::string i2 = in + "   ", i3 = i2 + "   ", i4 = i3 + "   ";
      out << in << "auto " << tileName(group, count, last) << " = [&](std::size_t sp_o0, std::size_t sp_q0)"
          << target.attributes << " {\n"
          << i2 << "const float *const sp_wg = sp_w + sp_o0 * " << depth << ";\n";
      for (std::size_t o = 0; o < group; ++o)
         for (std::size_t v = 0; v < count; ++v)
            out << i2 << "float " << acc(o, v) << "[" << lanes << "];\n";
      out << kKeepVectorLoop << i2 << "for (std::size_t sp_j = 0; sp_j < " << lanes << "; ++sp_j) {\n";
      for (std::size_t o = 0; o < group; ++o)
         for (std::size_t v = 0; v < count; ++v)
            out << i3 << acc(o, v) << "[sp_j] = "
                << (call.bias ? "sp_w[" + Str(oc * depth) + " + sp_o0 + " + Str(o) + "]" : std::string("0.0f"))
                << ";\n";
      out << i2 << "}\n"
          << i2 << "for (std::size_t sp_c = 0; sp_c < " << g.channels << "; ++sp_c)\n"
          << i2 << "   for (std::size_t sp_kh = 0; sp_kh < " << g.kernelH << "; ++sp_kh)\n"
          << i2 << "      for (std::size_t sp_kw = 0; sp_kw < " << g.kernelW << "; ++sp_kw) {\n"
          << i4 << "const float *const sp_s = sp_planes + (sp_c * " << g.kernelW << " + sp_kw) * " << stride
          << " + sp_kh * " << g.OutW() << " + sp_q0;\n"
          << i4 << "const float *const sp_wk = sp_wg + ((sp_c * " << g.kernelH << " + sp_kh) * " << g.kernelW
          << " + sp_kw) * " << group << ";\n";
      for (std::size_t o = 0; o < group; ++o)
         out << i4 << "const float sp_w" << o << " = sp_wk[" << o << "];\n";
      out << kKeepVectorLoop << i4 << "for (std::size_t sp_j = 0; sp_j < " << lanes << "; ++sp_j) {\n";
      for (std::size_t v = 0; v < count; ++v) {
         out << i4 << "   const float sp_x" << v << " = sp_s[" << v * lanes << " + sp_j];\n";
         for (std::size_t o = 0; o < group; ++o)
            out << i4 << "   " << acc(o, v) << "[sp_j] = sp_fma(sp_w" << o << ", sp_x" << v << ", " << acc(o, v)
                << "[sp_j]);\n";
      }
      out << i4 << "}\n" << i3 << "   }\n";
      // The result, in NCHW order: + residual, ReLU, in the registers; then stored. (In one
      // loop with the stores, g++ could not rule out that they overwrite the residual's
      // later elements, and stored one float at a time.) A partial last vector gets loops
      // of its own (their bound a constant too).
      auto store = [&](std::size_t firstVector, std::size_t endVector, std::size_t count) {
         auto index = [&](std::size_t o, std::size_t v) {
            return "(sp_o0 + " + Str(o) + ") * " + Str(pixels) + " + sp_q0 + " + Str(v * lanes) + " + sp_j";
         };
         if (!call.residual.empty() || call.relu) {
            out << kKeepVectorLoop << i2 << "for (std::size_t sp_j = 0; sp_j < " << count << "; ++sp_j) {\n";
            for (std::size_t o = 0; o < group; ++o)
               for (std::size_t v = firstVector; v < endVector; ++v) {
                  const std::string a = acc(o, v) + "[sp_j]";
                  if (!call.residual.empty())
                     out << i3 << a << " += sp_res[" << index(o, v) << "];\n";
                  if (call.relu)
                     out << i3 << a << " = " << a << " > 0.0f ? " << a << " : 0.0f;\n";
               }
            out << i2 << "}\n";
         }
         out << kKeepVectorLoop << i2 << "for (std::size_t sp_j = 0; sp_j < " << count << "; ++sp_j) {\n";
         for (std::size_t o = 0; o < group; ++o)
            for (std::size_t v = firstVector; v < endVector; ++v)
               out << i3 << "sp_out[" << index(o, v) << "] = " << acc(o, v) << "[sp_j];\n";
         out << i2 << "}\n";
      };
      const bool partial = last && lastLanes != lanes;
      store(0, partial ? count - 1 : count, lanes);
      if (partial)
         store(count - 1, count, lastLanes);
      out << in << "};\n";
   };
   // Chunk after chunk of pixels, every group of output channels on each: a chunk's planes
   // (channels x taps x a few vectors) stay in the L1 cache while the weights stream past
   // from L2. (Group after group, every group streamed all the planes: a 1x1 convolution of
   // 256 channels on 128 x 16 points, ParticleNet's, read its 2 MB image 64 times.)
   auto emitGroup = [&](std::size_t group) {
      if (fullChunks > 0)
         emitTile(group, vectors, false);
      emitTile(group, lastVectors, true);
   };
   auto callChunk = [&](const std::string &q0, std::size_t count, bool last, const std::string &indent) {
      if (fullGroups > 0)
         out << indent << "for (std::size_t sp_o0 = 0; sp_o0 < " << fullGroups * kOutGroup << "; sp_o0 += "
             << kOutGroup << ")\n"
             << indent << "   " << tileName(kOutGroup, count, last) << "(sp_o0, " << q0 << ");\n";
      if (lastGroup > 0)
         out << indent << tileName(lastGroup, count, last) << "(" << fullGroups * kOutGroup << ", " << q0 << ");\n";
   };
   if (fullGroups > 0)
      emitGroup(kOutGroup);
   if (lastGroup > 0)
      emitGroup(lastGroup);
   if (fullChunks > 0) {
      out << in << "for (std::size_t sp_q0 = 0; sp_q0 < " << fullChunks * vectors * lanes << "; sp_q0 += "
          << vectors * lanes << ") {\n";
      callChunk("sp_q0", vectors, false, in + "   ");
      out << in << "}\n";
   }
   callChunk(Str(fullChunks * vectors * lanes), lastVectors, true, in);
   return out.str();
}

std::string ConvPlanes::ImageCode(const ConvPlanesCall &call) const
{
   const auto &g = fGeometry;
   const std::size_t stride = PlaneStride(), outW = g.OutW();
   const std::string &in = call.indent, i2 = in + "   ";
   std::ostringstream out;
   out << in << "{ // ConvPlanes: " << g.channels << "x" << g.height << "x" << g.width << " -> " << g.outChannels
       << "x" << g.OutH() << "x" << outW << ", kernel " << g.kernelH << "x" << g.kernelW << "\n"
       << i2 << "const float *const sp_image = " << call.image << ";\n"
       << i2 << "float *const sp_planes = " << call.planes << ";\n"
       << i2 << "const float *const sp_w = " << call.packed << ";\n"
       << i2 << "float *const sp_out = " << call.out << ";\n";
   if (!call.residual.empty())
      out << i2 << "const float *const sp_res = " << call.residual << ";\n";
   // The shifted planes: row h of channel c, cut for each kernel column kw to the output
   // columns whose tap kw falls inside the image (the rest stays zero).
   out << i2 << "for (std::size_t sp_c = 0; sp_c < " << g.channels << "; ++sp_c)\n"
       << i2 << "   for (std::size_t sp_h = 0; sp_h < " << g.height << "; ++sp_h) {\n"
       << i2 << "      const float *const sp_row = sp_image + (sp_c * " << g.height << " + sp_h) * " << g.width
       << ";\n"
       << i2 << "      float *const sp_dst = sp_planes + sp_c * " << g.kernelW * stride << " + (sp_h + " << g.padTop
       << ") * " << outW << ";\n";
   for (std::size_t kw = 0; kw < g.kernelW; ++kw) {
      // Output column ow reads image column ow + kw - padLeft.
      // (Unsigned: a kernel column past the image's last column, kw >= W + padLeft, reads
      // only padding.)
      const std::size_t first = g.padLeft > kw ? g.padLeft - kw : 0;
      const std::size_t end = std::min(outW, g.width + g.padLeft > kw ? g.width + g.padLeft - kw : 0);
      if (end > first)
         out << i2 << "      std::memcpy(sp_dst + " << kw * stride + first << ", sp_row + " << first + kw - g.padLeft
             << ", " << end - first << " * sizeof(float));\n";
   }
   out << i2 << "   }\n" << FmaLambda(i2);
   ConvPlanesCall inner = call;
   inner.indent = i2;
   // Register tiles per target (VectorTargets.hxx).
   for (const VectorTarget &target : kVectorTargets)
      out << Directive(target) << TargetCode(inner, target);
   out << "#endif\n" << in << "}\n";
   return out.str();
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
