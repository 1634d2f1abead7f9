// GRU cell as torch computes it (ONNX gate order z, r, n; linear_before_reset = 1):
//   z = sigmoid(x Wz + bz + h Rz + rbz);  r = sigmoid(x Wr + br + h Rr + rbr)
//   n = tanh(x Wn + bn + r (h Rn + rbn));  h = (1 - z) n + z h
// Node SofiePyTorchGRU: inputs X, WT, RT, Wb, Rb, [h0]; outputs Y, Y_h; attribute
// hidden_size.
#include "Operators.hxx"
#include "RecurrentOperator.hxx"

namespace SOFIE {
namespace PyTorch {
namespace operators {

namespace {

class GRU final : public RecurrentOperator {
public:
   using RecurrentOperator::RecurrentOperator;

private:
   std::string RecurrentBias() const override { return Bias(1); }

   void EmitStep(std::ostream &out, const std::string &in) const override
   {
      const size_t h = Hidden(), gh = Gates() * Hidden();
      // The recurrent half (with its bias) goes to sp_scratch: n needs it apart from the
      // input half.
      EmitRecurrentProduct(out, in, "sp_scratch", false);
      out << in << "for (size_t sp_b = 0; sp_b < " << Batch() << "; ++sp_b) {\n"
          << in << "   const float *sp_gb = sp_g + sp_b * " << gh << ";\n"
          << in << "   float *sp_rb = sp_scratch + sp_b * " << gh << ";\n"
          << in << "   const float *sp_hpb = sp_hp + sp_b * " << h << ";\n"
          << in << "   float *sp_hb = sp_h + sp_b * " << h << ";\n"
          << in << "   for (size_t sp_j = 0; sp_j < " << 2 * h << "; ++sp_j)\n"
          << in << "      sp_rb[sp_j] = sp_sigmoid(sp_gb[sp_j] + sp_rb[sp_j]);\n"
          << in << "   for (size_t sp_j = 0; sp_j < " << h << "; ++sp_j) {\n"
          << in << "      const float sp_new = sp_tanh(sp_gb[" << 2 * h << " + sp_j] + sp_rb[" << h << " + sp_j] * sp_rb["
          << 2 * h << " + sp_j]);\n"
          << in << "      sp_hb[sp_j] = sp_new + sp_rb[sp_j] * (sp_hpb[sp_j] - sp_new);\n"
          << in << "   }\n"
          << in << "}\n";
   }
};

} // namespace

std::unique_ptr<ROperator> ParseGRU(RModelParser_ONNX &parser, const onnx::NodeProto &node)
{
   return std::make_unique<GRU>(RecurrentOperator::ReadNode(parser, node, "GRU", 3, 2, 1));
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
