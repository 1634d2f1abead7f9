// Work buffers of our operators start on 64-byte cache lines: AVX-512 loads that split
// lines made the same generated code up to 30% slower, depending on where the heap put it.
#ifndef SOFIE_PYTORCH_OPERATORS_ALIGNEDBUFFER_HXX
#define SOFIE_PYTORCH_OPERATORS_ALIGNEDBUFFER_HXX

#include <cstddef>
#include <string>

namespace SOFIE {
namespace PyTorch {
namespace operators {

/// Floats to allocate beyond the buffer's size, so that its aligned start still fits.
constexpr std::size_t kAlignmentSlack = 16;

/// n floats rounded up to whole 64-byte lines.
inline std::size_t WholeLines(std::size_t n)
{
   return (n + 15) / 16 * 16;
}

/// C++ code: the first 64-byte boundary in the std::vector<float> named `vector`
/// (generated code must include <cstdint>).
inline std::string AlignedStart(const std::string &vector)
{
   return "reinterpret_cast<float *>((reinterpret_cast<std::uintptr_t>(" + vector + ".data()) + 63) / 64 * 64)";
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE

#endif
