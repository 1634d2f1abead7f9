// Plain RNN cell as torch computes it: h = act(x W^T + h RT + b), act tanh or ReLU.
// Node SofiePyTorchRNN: inputs X, WT, RT, B (W and R biases summed), [h0]; outputs Y,
// Y_h; attributes hidden_size and relu (1: ReLU, 0: tanh). Ours because the engine's RNN
// needs every size fixed when the code is generated; this one takes a run-time batch.
#include "NodeReading.hxx"
#include "Operators.hxx"
#include "RecurrentOperator.hxx"

namespace SOFIE {
namespace PyTorch {
namespace operators {

namespace {

class RNN final : public RecurrentOperator {
public:
   RNN(Spec spec, bool relu) : RecurrentOperator(std::move(spec)), fRelu(relu) {}

private:
   void EmitStep(std::ostream &out, const std::string &in) const override
   {
      const size_t h = Hidden();
      EmitRecurrentProduct(out, in, "sp_g", true);
      const std::string activation = fRelu ? "(sp_v > 0.0f ? sp_v : 0.0f)" : "sp_tanh(sp_v)";
      out << in << "for (size_t sp_b = 0; sp_b < " << Batch() << "; ++sp_b) {\n"
          << in << "   const float *sp_gb = sp_g + sp_b * " << h << ";\n"
          << in << "   float *sp_hb = sp_h + sp_b * " << h << ";\n"
          << in << "   for (size_t sp_j = 0; sp_j < " << h << "; ++sp_j) {\n"
          << in << "      const float sp_v = sp_gb[sp_j];\n"
          << in << "      sp_hb[sp_j] = " << activation << ";\n"
          << in << "   }\n"
          << in << "}\n";
   }

   bool fRelu;
};

} // namespace

std::unique_ptr<ROperator> ParseRNN(RModelParser_ONNX &parser, const onnx::NodeProto &node)
{
   return std::make_unique<RNN>(RecurrentOperator::ReadNode(parser, node, "RNN", 1, 1, 1),
                                IntAttribute(node, "relu") != 0);
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
