#include "PackedGemm.hxx"

#include "AlignedBuffer.hxx"
#include "VectorTargets.hxx"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>

namespace SOFIE {
namespace PyTorch {
namespace operators {

namespace {

constexpr std::size_t kMaxTileRows = 8;

// The shape of a tile of `rows` rows on a panel of nr floats for a target: blocks of
// `vectors` vectors of the panel's columns, one after the other, each with its own k loop
// (the panel's 64 columns are 8 ymm vectors per row: a 1-row tile would fill AVX2's
// register file), and k summed in `split` interleaved chains.
struct TileShape {
   std::size_t vectors, split;
};

TileShape Shape(std::size_t rows, std::size_t nr, const VectorTarget &target)
{
   const std::size_t panelVectors = nr / target.lanes;
   // The widest block that divides the panel, fits the budget with this many rows, and
   // is at most 8 vectors (4 once there are several rows: more rows reuse W's loads).
   const std::size_t widest = rows == 1 ? 8 : 4;
   std::size_t vectors = 1;
   for (std::size_t v = 1; v <= std::min(panelVectors, widest); ++v)
      if (panelVectors % v == 0 && rows * v <= target.budget)
         vectors = v;
   // Fewer than 8 accumulators: two chains per accumulator, so that enough FMAs are in
   // flight to hide their latency (batch 1).
   const std::size_t split = rows * vectors < 8 && 2 * rows * vectors <= target.budget ? 2 : 1;
   return {vectors, split};
}

// Rows of the full tile for a target: as many as the budget allows with blocks of up to 4
// vectors.
std::size_t TileRows(std::size_t nr, const VectorTarget &target)
{
   return std::max<std::size_t>(1, std::min(kMaxTileRows, target.budget / Shape(2, nr, target).vectors));
}

// The tile heights the generated code can reach: with a constant row count, each target's
// full tile and its remainder (a third of the code for the zoo's convolutions, and of
// g++'s time on it); every height otherwise.
std::set<std::size_t> TileSizes(const std::string &m, std::size_t nr)
{
   std::set<std::size_t> sizes;
   if (m.empty() || m.find_first_not_of("0123456789") != std::string::npos) {
      for (std::size_t rows = 1; rows <= kMaxTileRows; ++rows)
         sizes.insert(rows);
      return sizes;
   }
   const std::size_t rows = std::stoul(m);
   for (const VectorTarget &target : kVectorTargets) {
      const std::size_t mr = TileRows(nr, target);
      if (rows >= mr)
         sizes.insert(mr);
      if (rows % mr)
         sizes.insert(rows % mr);
   }
   return sizes;
}

// A's columns as runs of (count, offset in A's row); one run of K by default.
std::vector<std::pair<std::size_t, std::size_t>> Runs(const PackedGemmCall &call, std::size_t k)
{
   if (call.runs.empty())
      return {{k, 0}};
   std::size_t total = 0;
   for (const auto &run : call.runs)
      total += run.first;
   if (total != k)
      throw std::runtime_error("PackedGemm: the runs of A's columns must add up to K");
   // Runs that continue one another are one loop (a convolution's taps along a row).
   std::vector<std::pair<std::size_t, std::size_t>> merged;
   for (const auto &run : call.runs) {
      if (!merged.empty() && merged.back().second + merged.back().first == run.second)
         merged.back().first += run.first;
      else
         merged.push_back(run);
   }
   return merged;
}

// Panels longer than this many k (of up to 64 floats: 256 kB) are walked in blocks of
// kBlockK k: each block of the panel serves every row of A from the L2 cache, then the
// next (the partial sums stay in C meanwhile). Walked whole, a panel left the cache
// before the next tile of rows came back to it: ResNet-18's 512-channel 3x3 convolutions
// (K = 4608, 13 rows at batch 1) streamed their 9.4 MB of weights from memory once per
// tile of rows.
constexpr std::size_t kBlockAbove = 1024, kBlockK = 256;

// The runs of A's columns as the tile's k loops walk them: with blocks, each run cut into
// pieces of at most kBlockK (each piece one block).
std::vector<std::pair<std::size_t, std::size_t>> Pieces(const PackedGemmCall &call, std::size_t k)
{
   auto runs = Runs(call, k);
   if (k <= kBlockAbove)
      return runs;
   std::vector<std::pair<std::size_t, std::size_t>> pieces;
   for (const auto &run : runs)
      for (std::size_t done = 0; done < run.first; done += kBlockK)
         pieces.emplace_back(std::min(kBlockK, run.first - done), run.second + done);
   return pieces;
}

// C++ expression: the offset in A of the row numbered by the expression `row`
// (PackedGemmCall::rowGroup).
std::string RowOffset(const PackedGemmCall &call, const std::string &row)
{
   if (call.rowGroup == 0)
      return "(" + row + ") * sp_lda";
   const std::string g = std::to_string(call.rowGroup);
   return "((" + row + ") / " + g + " * " + std::to_string(call.groupStride) + " + (" + row + ") % " + g +
          ") * sp_lda";
}

// The value stored into C for the result `v` (a C++ expression): after ReLU or the
// call's activation, if any.
std::string Finished(const PackedGemmCall &call, const std::string &v)
{
   if (call.relu && !call.activation.empty())
      throw std::runtime_error("PackedGemm: ReLU and an activation on the same product");
   if (call.relu)
      return v + " > 0.0f ? " + v + " : 0.0f";
   return call.activation.empty() ? v : call.activation + "(" + v + ")";
}

// What the product adds and applies, for the generated code's comment.
std::string Applied(const PackedGemmCall &call)
{
   return std::string(call.bias ? " + bias" : "") + (call.relu ? ", then ReLU" : "") +
          (call.activation.empty() ? "" : ", then " + call.activation);
}

// The stored value: the call's epilogue applied to `value`, C's element `at`.
std::string Epilogue(const PackedGemmCall &call, const std::string &value, const std::string &at)
{
   return call.epilogue.empty() ? value : call.epilogue + "(" + value + ", " + at + ")";
}

// The lambda sp_tile<rows>(cols, i, p) for one target: `rows` rows of A from row i times
// panel p, into the first `cols` columns (a compile-time constant) of the panel's part of
// C, block after block of the panel's columns (TileShape), each block with its own k loop.
// The rows are unrolled here, in the source, each with its own accumulator arrays: with
// one 2-D array and a loop over the rows, g++'s loop interchange moved the k loop inside
// the row loop and kept the accumulators in memory (5x slower). Each accumulator is an
// array of exactly one vector of the target, with a loop of that many floats: g++
// vectorises it into one instruction at -O2 as at -O3 and keeps it in a register. (An
// array of several vectors needs -O3's complete unrolling to leave memory: at -O2, with
// 16-float chunks, an AVX2 6-row tile did a load and a store per FMA; with one 64-float
// array per row, g++ 12 -O3 kept a 6-row AVX-512 tile on the stack too.) Vectors wholly
// beyond `cols` (a last panel of few columns) are skipped. With split 2, even and odd k
// are summed apart, for enough independent FMA chains to hide the FMA latency in small
// tiles (batch 1). With blocks of k (kBlockAbove), the lambda takes the block sp_g too:
// it walks that block only, starting from C's partial sums after the first block and
// applying the activation after the last.
void EmitTileForTarget(std::ostream &out, const std::string &in, std::size_t rows, std::size_t k, std::size_t nr,
                       std::size_t biasOffset, const PackedGemmCall &call, const VectorTarget &target)
{
   const TileShape shape = Shape(rows, nr, target);
   const std::size_t width = target.lanes, split = shape.split, blocks = nr / width / shape.vectors;
   auto acc = [&](std::size_t r, std::size_t s, std::size_t c) {
      return "sp_acc" + std::to_string(r) + "_" + std::to_string(s) + "_" + std::to_string(c);
   };
   auto live = [](std::size_t c) { return "sp_live" + std::to_string(c); };
   const std::string i2 = in + "      ";
   const auto pieces = Pieces(call, k);
   const bool blocked = k > kBlockAbove;
   const std::string lastBlock = std::to_string(pieces.size() - 1);
   out << in << "   auto sp_tile" << rows
       << " = [&](auto sp_cols_c, std::size_t sp_i, std::size_t sp_p, std::size_t sp_g)" << target.attributes
       << " {\n"
       << i2 << "constexpr std::size_t sp_cols = decltype(sp_cols_c)::value;\n"
       << i2 << "const float *const sp_panel = sp_w + sp_p * " << k * nr << ";\n"
       << i2 << "float *const sp_ci = sp_c + sp_i * sp_ldc + sp_p * " << nr << ";\n";
   // Columns of C in each vector (0 to width; 0: the vector is skipped).
   for (std::size_t c = 0; c < nr / width; ++c)
      out << i2 << "constexpr std::size_t " << live(c) << " = sp_cols <= " << c * width << " ? 0 : sp_cols - "
          << c * width << " < " << width << " ? sp_cols - " << c * width << " : " << width << ";\n";
   for (std::size_t r = 0; r < rows; ++r)
      out << i2 << "const float *const sp_a" << r << " = sp_a + " << RowOffset(call, "sp_i + " + std::to_string(r))
          << ";\n";
   for (std::size_t b = 0; b < blocks; ++b) {
      const std::size_t first = b * shape.vectors, end = first + shape.vectors;
      const std::string i3 = i2 + "   ", i4 = i3 + "   ";
      out << i2 << "if constexpr (" << live(first) << " > 0) {\n";
      for (std::size_t r = 0; r < rows; ++r)
         for (std::size_t s = 0; s < split; ++s)
            for (std::size_t c = first; c < end; ++c)
               out << i3 << "float " << acc(r, s, c) << "[" << width << "];\n";
      // A loop over vector c's columns (all width of them, or only its live ones), its
      // body written by `body(c)`, when the vector is live.
      auto vectorLoops = [&](const std::string &indent, bool liveOnly, auto body) {
         for (std::size_t c = first; c < end; ++c) {
            out << indent << "if constexpr (" << live(c) << " > 0) {\n"
                << kKeepVectorLoop << indent << "   for (std::size_t sp_j = 0; sp_j < " << (liveOnly ? live(c) : std::to_string(width))
                << "; ++sp_j) {\n";
            body(c, indent + "      ");
            out << indent << "   }\n" << indent << "}\n";
         }
      };
      vectorLoops(i3, false, [&](std::size_t c, const std::string &indent) {
         for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t s = 0; s < split; ++s)
               out << indent << acc(r, s, c) << "[sp_j] = "
                   << (call.bias && s == 0 ? std::string(blocked ? "sp_g > 0 ? 0.0f : " : "") + "sp_w[" +
                                                 std::to_string(biasOffset + c * width) + " + sp_p * " +
                                                 std::to_string(nr) + " + sp_j]"
                                           : std::string("0.0f"))
                   << ";\n";
      });
      if (call.accumulate || blocked) {
         if (!call.accumulate)
            out << i3 << "if (sp_g > 0) {\n";
         vectorLoops(i3, true, [&](std::size_t c, const std::string &indent) {
            for (std::size_t r = 0; r < rows; ++r)
               out << indent << acc(r, 0, c) << "[sp_j] += sp_ci[" << r << " * sp_ldc + " << c * width
                   << " + sp_j];\n";
         });
         if (!call.accumulate)
            out << i3 << "}\n";
      }
      // One k (or `count` consecutive k) of the block times the rows' elements at aIndex.
      auto step = [&](const std::string &kFirst, std::size_t count, const std::string &aIndex,
                      const std::string &indent) {
         out << indent << "const float *const sp_wk = sp_panel + " << kFirst << " * " << nr << ";\n";
         for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t s = 0; s < count; ++s)
               out << indent << "const float sp_x" << r << "_" << s << " = sp_a" << r << "[" << aIndex << " + " << s
                   << "];\n";
         vectorLoops(indent, false, [&](std::size_t c, const std::string &body) {
            for (std::size_t r = 0; r < rows; ++r)
               for (std::size_t s = 0; s < count; ++s)
                  out << body << acc(r, s, c) << "[sp_j] = sp_fma(sp_x" << r << "_" << s << ", sp_wk["
                      << s * nr + c * width << " + sp_j], " << acc(r, s, c) << "[sp_j]);\n";
         });
      };
      // One k loop per run of A's columns (PackedGemmCall::runs), or per block.
      std::size_t start = 0, piece = 0;
      for (const auto &run : pieces) {
         if (blocked)
            out << i3 << "if (sp_g == " << piece++ << ")\n";
         out << i3 << "{\n";
         const std::size_t count = run.first, whole = count / split * split;
         const std::string base = "(sp_k - " + std::to_string(start) + ") + " + std::to_string(run.second);
         if (whole > 0) {
            out << i3 << "for (std::size_t sp_k = " << start << "; sp_k < " << start + whole << "; sp_k += " << split
                << ") {\n";
            step("sp_k", split, base, i4);
            out << i3 << "}\n";
         }
         if (count % split) {
            out << i3 << "{\n";
            step(std::to_string(start + count - 1), 1, std::to_string(run.second + count - 1), i4);
            out << i3 << "}\n";
         }
         out << i3 << "}\n";
         start += count;
      }
      vectorLoops(i3, true, [&](std::size_t c, const std::string &indent) {
         for (std::size_t r = 0; r < rows; ++r) {
            std::string sum = acc(r, 0, c) + "[sp_j]";
            for (std::size_t s = 1; s < split; ++s)
               sum += " + " + acc(r, s, c) + "[sp_j]";
            const std::string v = "sp_v" + std::to_string(r);
            out << indent << "const float " << v << " = " << sum << ";\n"
                << indent << "sp_ci[" << r << " * sp_ldc + " << c * width << " + sp_j] = "
                << (blocked && Finished(call, v) != v ? "sp_g < " + lastBlock + " ? " + v + " : " : std::string())
                << Finished(call, v) << ";\n";
         }
      });
      out << i2 << "}\n";
   }
   out << in << "   };\n";
}

// The tile of `rows` rows for every target, under the preprocessor's choice (once when
// the targets' code is the same).
void EmitTile(std::ostream &out, const std::string &in, std::size_t rows, std::size_t k, std::size_t nr,
              std::size_t biasOffset, const PackedGemmCall &call)
{
   for (const VectorTarget &target : kVectorTargets) {
      out << Directive(target);
      EmitTileForTarget(out, in, rows, k, nr, biasOffset, call, target);
   }
   out << "#endif\n";
}

} // namespace

std::string FmaLambda(const std::string &in)
{
   return in + "auto sp_fma = [](float x, float y, float z) {\n#if defined(__FMA__)\n" + in +
          "   return std::fma(x, y, z);\n#else\n" + in + "   return x * y + z;\n#endif\n" + in + "};\n";
}

PackedGemm::PackedGemm(std::size_t k, std::size_t n, bool dotProducts) : fK(k), fN(n), fDotProducts(dotProducts)
{
   if (k == 0 || n == 0)
      throw std::runtime_error("PackedGemm: the weight matrix must not be empty");
   // Panels as wide as 64 floats (4 zmm: 6 rows x 4 accumulators fill the register file),
   // narrower when N is small, so that a 1-column output does not compute 64 columns.
   fNR = std::min<std::size_t>(64, (n + 15) / 16 * 16);
}

std::string PackedGemm::MemberCode(const std::string &member) const
{
   return "std::vector<float> " + member + "_storage;\nconst float *" + member + " = nullptr;\n";
}

std::string PackedGemm::PackCode(const std::string &member, const std::string &w, std::size_t rowStride,
                                 std::size_t columnStride, const std::string &bias, const std::string &indent) const
{
   const std::string storage = member + "_storage";
   const std::size_t panel = fK * fNR, weights = Panels() * panel;
   std::ostringstream out;
   out << indent << "// Pack " << fK << "x" << fN << " weights into " << Panels() << " panel(s) of " << fNR
       << " columns (PackedGemm)\n"
       << indent << storage << ".assign(" << PackedFloats() + kAlignmentSlack << ", 0.0f);\n"
       << indent << "{\n"
       << indent << "   float *sp_dst = " << AlignedStart(storage) << ";\n"
       << indent << "   " << member << " = sp_dst;\n";
   if (Narrow()) {
      out << indent << "   for (std::size_t sp_n = 0; sp_n < " << fN << "; ++sp_n) {\n"
          << indent << "      for (std::size_t sp_k = 0; sp_k < " << fK << "; ++sp_k)\n"
          << indent << "         sp_dst[sp_n * " << PaddedK() << " + sp_k] = " << w << "[sp_k * " << rowStride
          << " + sp_n * " << columnStride << "];\n";
      if (!bias.empty())
         out << indent << "      sp_dst[" << fN * PaddedK() << " + sp_n] = " << bias << "[sp_n];\n";
      out << indent << "   }\n" << indent << "}\n";
      return out.str();
   }
   out << indent << "   for (std::size_t sp_k = 0; sp_k < " << fK << "; ++sp_k)\n"
       << indent << "      for (std::size_t sp_n = 0; sp_n < " << fN << "; ++sp_n)\n"
       << indent << "         sp_dst[sp_n / " << fNR << " * " << panel << " + sp_k * " << fNR << " + sp_n % " << fNR
       << "] = " << w << "[sp_k * " << rowStride << " + sp_n * " << columnStride << "];\n";
   if (!bias.empty())
      out << indent << "   for (std::size_t sp_n = 0; sp_n < " << fN << "; ++sp_n)\n"
          << indent << "      sp_dst[" << weights << " + sp_n] = " << bias << "[sp_n];\n";
   out << indent << "}\n";
   return out.str();
}

std::string PackedGemm::NarrowCallCode(const PackedGemmCall &call) const
{
   // Per row and output: 16 partial sums along K (one vector: no reassociation needed to
   // vectorise), then a halving tree and the scalar tail of K.
   const std::string &in = call.indent;
   const std::size_t kp = PaddedK(), whole = fK / 16 * 16;
   std::ostringstream out;
   out << in << "{ // PackedGemm (dot products): C (m x " << fN << ") " << (call.accumulate ? "+" : "") << "= A (m x "
       << fK << ") . W" << Applied(call) << "\n"
       << in << "   const std::size_t sp_m = " << call.m << ", sp_lda = " << call.lda << ", sp_ldc = " << call.ldc
       << ";\n"
       << in << "   const float *const sp_w = " << call.packed << ";\n"
       << FmaLambda(in + "   ")
       << in << "   for (std::size_t sp_i = 0; sp_i < sp_m; ++sp_i) {\n"
       << in << "      const float *const sp_ai = " << call.a << " + " << RowOffset(call, "sp_i") << ";\n"
       << in << "      float *const sp_ci = " << call.c << " + sp_i * sp_ldc;\n"
       << in << "      for (std::size_t sp_n = 0; sp_n < " << fN << "; ++sp_n) {\n"
       << in << "         const float *const sp_wn = sp_w + sp_n * " << kp << ";\n"
       << in << "         float sp_acc[16] = {};\n"
       << in << "         for (std::size_t sp_k = 0; sp_k < " << whole << "; sp_k += 16)\n"
       << in << "            for (std::size_t sp_l = 0; sp_l < 16; ++sp_l)\n"
       << in << "               sp_acc[sp_l] = sp_fma(sp_ai[sp_k + sp_l], sp_wn[sp_k + sp_l], sp_acc[sp_l]);\n"
       << in << "         for (std::size_t sp_h = 8; sp_h > 0; sp_h /= 2)\n"
       << in << "            for (std::size_t sp_l = 0; sp_l < sp_h; ++sp_l)\n"
       << in << "               sp_acc[sp_l] += sp_acc[sp_l + sp_h];\n"
       << in << "         float sp_v = sp_acc[0];\n"
       << in << "         for (std::size_t sp_k = " << whole << "; sp_k < " << fK << "; ++sp_k)\n"
       << in << "            sp_v = sp_fma(sp_ai[sp_k], sp_wn[sp_k], sp_v);\n";
   if (call.bias)
      out << in << "         sp_v += sp_w[" << fN * kp << " + sp_n];\n";
   if (call.accumulate)
      out << in << "         sp_v += sp_ci[sp_n];\n";
   out << in << "         sp_ci[sp_n] = " << Finished(call, "sp_v") << ";\n"
       << in << "      }\n"
       << in << "   }\n";
   // The epilogue in a loop of its own, over the rows: inside the loop above it would run
   // one element at a time (an output layer's sigmoid on 64 rows took 1 µs more).
   if (!call.epilogue.empty())
      out << in << "   for (std::size_t sp_i = 0; sp_i < sp_m; ++sp_i)\n"
          << in << "      for (std::size_t sp_n = 0; sp_n < " << fN << "; ++sp_n)\n"
          << in << "         " << call.c << "[sp_i * sp_ldc + sp_n] = "
          << Epilogue(call, call.c + "[sp_i * sp_ldc + sp_n]", "sp_i * sp_ldc + sp_n") << ";\n";
   out << in << "}\n";
   return out.str();
}

std::string PackedGemm::CallCode(const PackedGemmCall &call) const
{
   if (Narrow()) {
      if (!call.runs.empty())
         throw std::runtime_error("PackedGemm: A in runs needs the panel layout (dotProducts = false)");
      return NarrowCallCode(call);
   }
   const std::string &in = call.indent;
   const std::size_t panel = fK * fNR, weights = Panels() * panel, lastCols = fN - (Panels() - 1) * fNR;
   std::ostringstream out;
   out << in << "{ // PackedGemm: C (m x " << fN << ") " << (call.accumulate ? "+" : "") << "= A (m x " << fK
       << ") . W" << Applied(call) << "\n";
   // The tile's rows per target; the panels were laid out for any of them.
   for (const VectorTarget &target : kVectorTargets)
      out << Directive(target) << in << "   constexpr std::size_t sp_mr = " << TileRows(fNR, target) << ";\n";
   out << "#endif\n"
       << in << "   const std::size_t sp_m = " << call.m << ", sp_lda = " << call.lda << ", sp_ldc = " << call.ldc
       << ";\n"
       << in << "   const float *const sp_a = " << call.a << ";\n"
       << in << "   float *const sp_c = " << call.c << ";\n"
       << in << "   const float *const sp_w = " << call.packed << ";\n"
       << FmaLambda(in + "   ");
   const std::set<std::size_t> tiles = TileSizes(call.m, fNR);
   for (std::size_t rows : tiles)
      EmitTile(out, in, rows, fK, fNR, weights, call);
   // Dispatch on the row count (a constant for the full tiles: the switch folds away).
   out << in
       << "   auto sp_tile = [&](std::size_t sp_rows, auto sp_cols_c, std::size_t sp_i, std::size_t sp_p, "
          "std::size_t sp_g) {\n"
       << in << "      switch (sp_rows) {\n";
   for (std::size_t rows : tiles)
      out << in << "      case " << rows << ": sp_tile" << rows << "(sp_cols_c, sp_i, sp_p, sp_g); break;\n";
   out << in << "      default: break;\n" << in << "      }\n" << in << "   };\n";
   // All rows of one panel (or of one block of it), then the next: the panel stays in the
   // cache while A's rows stream past it.
   const std::size_t blocks = fK > kBlockAbove ? Pieces(call, fK).size() : 1;
   auto panelCode = [&](const std::string &p, std::size_t cols) {
      const std::string colsTag = "std::integral_constant<std::size_t, " + std::to_string(cols) + ">{}";
      out << in << "      for (std::size_t sp_g = 0; sp_g < " << blocks << "; ++sp_g) {\n"
          << in << "         std::size_t sp_i = 0;\n"
          << in << "         for (; sp_i + sp_mr <= sp_m; sp_i += sp_mr)\n"
          << in << "            sp_tile(sp_mr, " << colsTag << ", sp_i, " << p << ", sp_g);\n"
          << in << "         if (sp_i < sp_m)\n"
          << in << "            sp_tile(sp_m - sp_i, " << colsTag << ", sp_i, " << p << ", sp_g);\n"
          << in << "      }\n";
      // The epilogue over the panel's part of C, still in L1, once per panel rather than in
      // every tile's store: written into each tile (6 rows, 3 tile heights), a GELU made the
      // function so large that g++ outlined a tile and kept its accumulators on the stack.
      if (!call.epilogue.empty())
         out << in << "      for (std::size_t sp_r = 0; sp_r < sp_m; ++sp_r)\n"
             << in << "         for (std::size_t sp_j = 0; sp_j < " << cols << "; ++sp_j) {\n"
             << in << "            const std::size_t sp_at = sp_r * sp_ldc + " << p << " * " << fNR << " + sp_j;\n"
             << in << "            sp_c[sp_at] = " << Epilogue(call, "sp_c[sp_at]", "sp_at") << ";\n"
             << in << "         }\n";
   };
   if (Panels() > 1 || lastCols == fNR) {
      const std::size_t full = lastCols == fNR ? Panels() : Panels() - 1;
      out << in << "   for (std::size_t sp_p = 0; sp_p < " << full << "; ++sp_p) {\n";
      panelCode("sp_p", fNR);
      out << in << "   }\n";
   }
   if (lastCols != fNR) {
      out << in << "   {\n";
      panelCode(std::to_string(Panels() - 1), lastCols);
      out << in << "   }\n";
   }
   out << in << "}\n";
   return out.str();
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
