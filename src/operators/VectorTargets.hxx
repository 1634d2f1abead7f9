// The vector targets of the generated kernels (PackedGemm, ConvPlanes), chosen when the
// user compiles the generated code: #if on the compiler's macros, so that one header runs
// at the full vector width of whatever CPU it is compiled for. The kernels write each
// accumulator as an array of exactly one vector of the target with a loop over its
// floats, which g++ vectorises into one instruction at -O2 as at -O3 and keeps in a
// register (an array of several vectors needs -O3's complete unrolling to leave memory).
#ifndef SOFIE_PYTORCH_OPERATORS_VECTORTARGETS_HXX
#define SOFIE_PYTORCH_OPERATORS_VECTORTARGETS_HXX

#include <cstddef>
#include <string>

namespace SOFIE {
namespace PyTorch {
namespace operators {

struct VectorTarget {
   const char *condition;  ///< the #if condition ("" for the last: #else)
   std::size_t lanes;      ///< floats of one vector
   std::size_t budget;     ///< accumulator vectors a tile may keep in registers (3/4 of them)
   const char *attributes; ///< of the tile lambdas
};

// g++ vectorises for AVX-512 with 256-bit vectors unless the -march's tuning prefers 512
// (x86-64-v4 does; -march=native on this Xeon, a Rocket Lake tuning, does not): a tile
// compiled as a function of its own that prefers 512-bit vectors keeps its accumulators in
// zmm registers whatever the -march (deep MLP 100-9x50-10, batch 64, -O2 -march=native:
// 34 µs in ymm, 26 in zmm). Other compilers get 8-float vectors, of which AVX-512 has 32.
constexpr VectorTarget kVectorTargets[] = {
   {"defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)", 16, 24,
    " __attribute__((target(\"prefer-vector-width=512\"), noinline))"},
   {"defined(__AVX512F__)", 8, 24, ""},
   {"defined(__AVX__)", 8, 12, ""},
   {"", 4, 12, ""}};

/// The preprocessor line that opens a target's code: #if, #elif, or #else for the last.
inline std::string Directive(const VectorTarget &target)
{
   if (!target.condition[0])
      return "#else\n";
   return (&target == kVectorTargets ? "#if " : "#elif ") + std::string(target.condition) + "\n";
}

/// Written before each loop over one vector's floats: g++ -O3 otherwise unrolls these short
/// loops completely before its vectoriser runs, and the unrolled statements stayed scalar
/// (hep_mlp, batch 64, -O3 -march=x86-64-v3: 63 µs, against 7.3 at -O2, where the loops are
/// vectorised into one instruction each).
constexpr const char *kKeepVectorLoop = "#pragma GCC unroll 1\n";

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE

#endif
