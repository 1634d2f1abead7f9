// Sizes of tensors as C++ expressions of the generated code (some dimensions may be chosen at
// run time, as Session parameters).
#ifndef SOFIE_PYTORCH_OPERATORS_SHAPECODE_HXX
#define SOFIE_PYTORCH_OPERATORS_SHAPECODE_HXX

#include "SOFIE/SOFIE_common.hxx"

#include <string>
#include <vector>

namespace SOFIE {
namespace PyTorch {
namespace operators {

/// The product of all but the last dimension (the rows of a row-wise operation), as C++: a
/// plain number when all are fixed (the generated loops then have constant bounds).
inline std::string RowsOf(const std::vector<Dim> &shape)
{
   std::size_t fixed = 1;
   std::string params;
   for (std::size_t i = 0; i + 1 < shape.size(); ++i) {
      if (shape[i].isParam)
         params += " * static_cast<std::size_t>(" + shape[i].param + ")";
      else
         fixed *= shape[i].dim;
   }
   return std::to_string(fixed) + params;
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE

#endif
