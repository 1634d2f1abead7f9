// A GEMM for the generated code's constant weights: C = A . W [+ bias] [then ReLU], with W
// (K x N) packed ONCE, when the Session is constructed, into column panels of NR floats
// ([N/NR][K][NR], the last panel zero-padded; then the bias, padded the same way), so that
// the inner loop reads W contiguously. A is row-major (M x K, leading dimension lda), C
// row-major (M x N, leading dimension ldc); M may be chosen at run time.
//
// Why our own: at the zoo's sizes (K, N of 4-600, M of 1-1024) OpenBLAS 0.3.21 re-packs both
// operands on every call (65-77% of the time at batch 64) and costs about 1 µs per call at
// batch 1 (bench/README.md). The weights are constant: pack them once.
//
// The generated code is plain C++17 loops with every size a compile-time constant: register
// tiles of MR rows of A times a block of a panel's columns, each accumulator an array of
// one vector of the target, which g++ turns into broadcast + vfmadd231ps on accumulators
// held in registers at -O2 as at -O3. The tile's shape is chosen when the user compiles
// the code (#if on __AVX512F__ / __AVX__, SSE otherwise): 6 rows x 64 columns in zmm
// registers with AVX-512 (g++), 3 x 32 in ymm with AVX2, 3 x 16 in xmm with SSE; the
// packed layout is the same for all. FMA is std::fma where the target has it
// (__FMA__), a*b+c otherwise: -std=c++17 turns off g++'s contraction of a*b+c. Rows of one
// or two (batch 1: the per-event scoring of issue 10) sum even and odd k separately, to
// have enough independent FMA chains. No intrinsics, no BLAS.
//
// How an operator uses it (LSTM/GRU/RNN gate GEMMs as well as Dense and Conv):
//   PackedGemm gemm(K, N);
//   GenerateSessionMembersCode: gemm.MemberCode(member)
//   GenerateInitCode:           gemm.PackCode(member, W expression, row stride, column stride,
//                                             bias expression or "")
//   Generate:                   gemm.CallCode({m, a, lda, member, bias?, c, ldc, accumulate?, relu?})
// where member is a Session member name (e.g. "fPacked_op3"), W's element (k, n) is at
// W[k * rowStride + n * columnStride] (a row-major K x N matrix: N, 1; its transpose, an
// N x K matrix: 1, K), and every expression is C++ evaluated in the generated function.
#ifndef SOFIE_PYTORCH_OPERATORS_PACKEDGEMM_HXX
#define SOFIE_PYTORCH_OPERATORS_PACKEDGEMM_HXX

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace SOFIE {
namespace PyTorch {
namespace operators {

/// One product of the generated code with the packed W (see PackedGemm::CallCode).
struct PackedGemmCall {
   std::string m;         ///< rows of A and C (C++ expression, e.g. "4" or "bs * 8")
   std::string a;         ///< const float * to A's first row
   std::string lda;       ///< floats between A's rows (expression)
   std::string packed;    ///< the Session member given to MemberCode/PackCode
   bool bias = false;     ///< add the bias packed with W (PackCode's bias)
   std::string c;         ///< float * to C's first row
   std::string ldc;       ///< floats between C's rows (expression)
   bool accumulate = false; ///< C += A.W [+ bias] instead of C = A.W [+ bias]
   bool relu = false;     ///< max(., 0) on the result (after the accumulation)
   /// Or a unary callable of the generated code (e.g. "sp_sigmoid") applied to each result
   /// while it is still in a register ("": none): for a small function (the LSTM's gates;
   /// 8% faster than a pass after the product). Larger programs use `epilogue`: inlined into
   /// every tile's store they made g++ spill the tile's accumulators.
   std::string activation;
   /// "" or the name of a callable (float value, std::size_t at) -> float that the caller
   /// declared before the call: applied to each result (after the ReLU), `at` = row * ldc +
   /// column of C, on each panel's columns once all its tiles are stored (still in L1), or
   /// on each row of a narrow product. (Dense: a fused element-wise program.)
   std::string epilogue;
   std::string indent = "   ";
   /// A's K columns in runs of (count, offset from the row's start), in order: A's column
   /// k of the run starting at column s is at row + offset + (k - s). Empty: one run of K
   /// at offset 0. (A stride-1 convolution reads its taps from an NHWC image this way.)
   std::vector<std::pair<std::size_t, std::size_t>> runs;
   /// A's rows in groups of `rowGroup` consecutive rows (of lda floats), the groups
   /// `groupStride` rows apart: row i at a + (i / rowGroup * groupStride + i % rowGroup) *
   /// lda. 0: A's rows are consecutive. C's rows are consecutive either way. (A stride-1
   /// convolution's output rows in its padded NHWC image: without the map the GEMM also
   /// computed the padding columns, 13 rows for 9 pixels on ResNet-18's 3x3 images.)
   std::size_t rowGroup = 0, groupStride = 0;
};

/// C++ source declaring sp_fma(x, y, z) = x * y + z: one instruction where the target has
/// FMA. (-std=c++17 turns off g++'s contraction of a*b+c; std::fma without FMA hardware is a
/// slow library call.) Needs <cmath>.
std::string FmaLambda(const std::string &indent);

class PackedGemm {
public:
   /// W is k x n (k, n >= 1). `dotProducts`: allow the narrow layout (see Narrow); calls
   /// with PackedGemmCall::runs need the panels.
   PackedGemm(std::size_t k, std::size_t n, bool dotProducts = true);

   std::size_t K() const { return fK; }
   std::size_t N() const { return fN; }
   /// Panel width: 16-64 floats, a multiple of 16 (one zmm).
   std::size_t NR() const { return fNR; }
   std::size_t Panels() const { return (fN + fNR - 1) / fNR; }
   /// Narrow products (N <= 4, K >= 16: an output layer's score) are dot products along K:
   /// W packed transposed (N rows of K, padded to 16), one vector of partial sums per
   /// output. Panels of 16 columns would do 16 times the work for N = 1.
   bool Narrow() const { return fDotProducts && fN <= 4 && fK >= 16; }
   /// Floats of a narrow product's packed row of W.
   std::size_t PaddedK() const { return (fK + 15) / 16 * 16; }
   /// Floats of the packed W followed by the padded bias.
   std::size_t PackedFloats() const { return Narrow() ? fN * PaddedK() + 16 : Panels() * fNR * (fK + 1); }

   /// Session members: `member` (const float *, 64-byte aligned) and its storage.
   std::string MemberCode(const std::string &member) const;
   /// Constructor code: allocate and fill `member` from W (see the file comment) and the
   /// bias (n floats; "" for none, packed as zeros). Needs <cstdint>.
   std::string PackCode(const std::string &member, const std::string &w, std::size_t rowStride,
                        std::size_t columnStride, const std::string &bias, const std::string &indent = "   ") const;
   /// Inference code for one product. Needs <cmath>, <cstddef>, <type_traits>.
   std::string CallCode(const PackedGemmCall &call) const;
   /// Standard headers the generated code needs.
   static std::vector<std::string> StdLibs() { return {"cmath", "cstddef", "cstdint", "type_traits", "vector"}; }

private:
   std::string NarrowCallCode(const PackedGemmCall &call) const;

   std::size_t fK, fN, fNR;
   bool fDotProducts;
};

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE

#endif
