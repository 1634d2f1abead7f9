// Our own SOFIE operators, registered with the engine's ONNX parser under op types of
// their own. The Python front end (sofie_pytorch/graph/fast_operators.py) renames the nodes it
// hands to them; every other node keeps the engine's operator.
#ifndef SOFIE_PYTORCH_OPERATORS_OPERATORS_HXX
#define SOFIE_PYTORCH_OPERATORS_OPERATORS_HXX

#include "SOFIE/RModelParser_ONNX.hxx"

#include <memory>

namespace SOFIE {
namespace PyTorch {
namespace operators {

/// Add our operators to `parser`.
void Register(RModelParser_ONNX &parser);

// One parse function per operator (in the operator's own file).
std::unique_ptr<ROperator> ParseLSTM(RModelParser_ONNX &parser, const onnx::NodeProto &node);
std::unique_ptr<ROperator> ParseGRU(RModelParser_ONNX &parser, const onnx::NodeProto &node);
std::unique_ptr<ROperator> ParseConv(RModelParser_ONNX &parser, const onnx::NodeProto &node);
std::unique_ptr<ROperator> ParseRNN(RModelParser_ONNX &parser, const onnx::NodeProto &node);
std::unique_ptr<ROperator> ParseElementwise(RModelParser_ONNX &parser, const onnx::NodeProto &node);
std::unique_ptr<ROperator> ParseDense(RModelParser_ONNX &parser, const onnx::NodeProto &node);
std::unique_ptr<ROperator> ParseLayerNorm(RModelParser_ONNX &parser, const onnx::NodeProto &node);

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE

#endif
