// The program of a fused element-wise subgraph (python/sofie_pytorch/graph/fusion.py), as
// the SofiePyTorchElementwise operator runs it in its own loop (Elementwise.cxx) and the
// Dense operator applies it to its GEMM's results before they are stored (Dense.cxx).
//
// Its values are numbered: the inputs 0..n_in-1, then the result of each op in turn. Node
// attributes (every operator that carries a program uses these names):
//   ops            the ops, in order, as ONNX op types (Elementwise.cxx's kOps);
//   args           their operands, arity of each op in turn: a value id, or -(j+1) for constants[j];
//   params         the ops' numeric attributes, kOps[].params of each op in turn;
//   constants, constant_types   scalar operands written into the code (ONNX dtype codes);
//   output_values  the value id of each output.
#ifndef SOFIE_PYTORCH_OPERATORS_ELEMENTWISEPROGRAM_HXX
#define SOFIE_PYTORCH_OPERATORS_ELEMENTWISEPROGRAM_HXX

#include "SOFIE/SOFIE_common.hxx"

#include "onnx.hxx" // the engine's ONNX reader (SOFIE/parsers/src)

#include <cstdint>
#include <string>
#include <vector>

namespace SOFIE {
namespace PyTorch {
namespace operators {

struct ElementwiseProgram {
   std::vector<std::string> inputs, outputs; ///< tensor names (filled by the operator)
   std::vector<std::string> ops;
   std::vector<int64_t> args, outputValues, constantTypes;
   std::vector<float> params, constants;
};

/// The program in the node's attributes (inputs and outputs left empty).
ElementwiseProgram ReadElementwiseProgram(const onnx::NodeProto &node);

/// The element type of every value: `inputTypes`, then each op's result. Checks operand
/// counts and ids.
std::vector<ETensorType> ElementwiseValueTypes(const ElementwiseProgram &p, std::vector<ETensorType> inputTypes);

/// C++ statements `const T sp_vK = ...;`, one per op, each line starting with `indent`: the
/// caller declares the inputs' values sp_v0..sp_v{n_in-1} first, and the lambdas of
/// GeneratedMath.hxx (ActivationLambdas, ElementwiseLambdas) in an enclosing scope.
std::string ElementwiseBody(const ElementwiseProgram &p, const std::vector<ETensorType> &types,
                            const std::string &indent);

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE

#endif
