#include "Operators.hxx"

namespace SOFIE {
namespace PyTorch {
namespace operators {

namespace {

struct Entry {
   const char *opType; // the ONNX op type the front end gives the node
   ParserFuncSignature parse;
};

// The op types are shared with python/sofie_pytorch/graph/fast_operators.py and fusion.py.
const Entry kOperators[] = {
   {"SofiePyTorchLSTM", ParseLSTM},
   {"SofiePyTorchGRU", ParseGRU},
   {"SofiePyTorchConv", ParseConv},
   {"SofiePyTorchRNN", ParseRNN},
   {"SofiePyTorchElementwise", ParseElementwise},
   {"SofiePyTorchDense", ParseDense},
   {"SofiePyTorchLayerNorm", ParseLayerNorm},
};

} // namespace

void Register(RModelParser_ONNX &parser)
{
   for (const auto &entry : kOperators)
      parser.RegisterOperator(entry.opType, entry.parse);
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
