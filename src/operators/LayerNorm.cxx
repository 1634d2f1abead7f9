// LayerNormalization over the last axis, with a constant scale and an optional constant bias.
// Node SofiePyTorchLayerNorm (made by python/sofie_pytorch/graph/layer_norm.py): inputs
// X (..., D), Scale (D), [B (D)]; output Y (X's shape); attribute epsilon. X's leading
// dimensions, any of them chosen at run time, are the rows.
//
// Why our own: the engine's LayerNormalization sums each row in one float dependency chain
// (`mean += x[i]`), which g++ may not vectorise or reorder without -ffast-math, then walks
// the row twice more. Here each row's sums are 16 independent partial sums (one vector,
// reduced by a halving tree at the end): the loops vectorise under plain -O3, and the
// result is as accurate as the sequential sum. The mean and the variance are two passes
// over the row (the row is in L1 by then; one pass of sum and sum of squares loses digits
// when the mean is large against the spread); scale and bias are applied in the same loop
// that normalises.
#include "GeneratedMath.hxx"
#include "NodeReading.hxx"
#include "Operators.hxx"
#include "ShapeCode.hxx"

#include "SOFIE/RModel.hxx"
#include "SOFIE/SOFIE_common.hxx"

#include <sstream>
#include <stdexcept>

namespace SOFIE {
namespace PyTorch {
namespace operators {

namespace {

constexpr std::size_t kLanes = 16; // partial sums per row: one zmm, two ymm, four xmm

class LayerNorm final : public ROperator {
public:
   LayerNorm(std::string x, std::string scale, std::string bias, std::string y, float epsilon)
      : fX(UTILITY::Clean_name(x)), fScale(UTILITY::Clean_name(scale)),
        fBias(bias.empty() ? bias : UTILITY::Clean_name(bias)), fY(UTILITY::Clean_name(y)), fEpsilon(epsilon)
   {
      fInputTensorNames = {fX, fScale};
      if (!fBias.empty())
         fInputTensorNames.emplace_back(fBias);
      fOutputTensorNames = {fY};
   }

   std::vector<std::string> GetStdLibs() override { return {"cmath", "cstddef"}; }

   void Initialize(RModel &model) override
   {
      const std::string what = "SofiePyTorch LayerNorm operator: ";
      for (const auto &name : fInputTensorNames)
         if (!model.CheckIfTensorAlreadyExist(std::string(name)))
            throw std::runtime_error(what + "tensor " + std::string(name) + " is not in the model");
      const auto x = model.GetDimTensorShape(fX);
      if (x.empty() || x.back().isParam || x.back().dim == 0)
         throw std::runtime_error(what + "the last dimension of " + fX + " must be known");
      fD = x.back().dim;
      for (const auto &name : {fScale, fBias}) {
         if (name.empty())
            continue;
         if (!model.IsInitializedTensor(name) || ConvertShapeToLength(model.GetTensorShape(name)) != fD)
            throw std::runtime_error(what + name + " must be a constant of " + std::to_string(fD) + " values");
      }
      fRows = RowsOf(x);
      if (!model.CheckIfTensorAlreadyExist(fY))
         model.AddIntermediateTensor(fY, ETensorType::FLOAT, x);
   }

   std::string Generate(std::string) override
   {
      const std::size_t whole = fD / kLanes * kLanes;
      const std::string lanes = std::to_string(kLanes), d = std::to_string(fD);
      // The 16 partial sums of `term` (an expression of sp_x[sp_k]) into `sum`.
      auto partialSums = [&](const std::string &sum, const std::string &term) {
         std::ostringstream s;
         s << "      float " << sum << "_l[" << lanes << "] = {};\n";
         if (whole > 0)
            s << "      for (std::size_t sp_k = 0; sp_k < " << whole << "; sp_k += " << lanes << ")\n"
              << "         for (std::size_t sp_l = 0; sp_l < " << lanes << "; ++sp_l)\n"
              << "            " << sum << "_l[sp_l] += " << Replace(term, "sp_k + sp_l") << ";\n";
         if (fD > whole)
            s << "      for (std::size_t sp_l = 0; sp_l < " << fD - whole << "; ++sp_l)\n"
              << "         " << sum << "_l[sp_l] += " << Replace(term, std::to_string(whole) + " + sp_l") << ";\n";
         s << "      for (std::size_t sp_h = " << kLanes / 2 << "; sp_h > 0; sp_h /= 2)\n"
           << "         for (std::size_t sp_l = 0; sp_l < sp_h; ++sp_l)\n"
           << "            " << sum << "_l[sp_l] += " << sum << "_l[sp_l + sp_h];\n";
         return s.str();
      };
      std::ostringstream out;
      out << "   // SofiePyTorch LayerNorm: " << fX << " -> " << fY << ", over the last axis (" << d << ")\n"
          << "   for (std::size_t sp_r = 0; sp_r < " << fRows << "; ++sp_r) {\n"
          << "      const float *const sp_x = tensor_" << fX << " + sp_r * " << d << ";\n"
          << "      float *const sp_y = tensor_" << fY << " + sp_r * " << d << ";\n"
          << partialSums("sp_sum", "sp_x[@]")
          << "      const float sp_mean = sp_sum_l[0] / " << d << ".0f;\n"
          << partialSums("sp_sq", "(sp_x[@] - sp_mean) * (sp_x[@] - sp_mean)")
          << "      const float sp_inv = 1.0f / std::sqrt(sp_sq_l[0] / " << d << ".0f + " << FloatLiteral(fEpsilon)
          << ");\n"
          << "      for (std::size_t sp_k = 0; sp_k < " << d << "; ++sp_k)\n"
          << "         sp_y[sp_k] = (sp_x[sp_k] - sp_mean) * sp_inv * tensor_" << fScale << "[sp_k]"
          << (fBias.empty() ? "" : " + tensor_" + fBias + "[sp_k]") << ";\n"
          << "   }\n";
      return out.str();
   }

private:
   static std::string Replace(std::string text, const std::string &index)
   {
      for (std::size_t at; (at = text.find('@')) != std::string::npos;)
         text.replace(at, 1, index);
      return text;
   }

   std::string fX, fScale, fBias, fY, fRows;
   float fEpsilon;
   std::size_t fD = 0;
};

} // namespace

std::unique_ptr<ROperator> ParseLayerNorm(RModelParser_ONNX &parser, const onnx::NodeProto &node)
{
   FloatOnly(parser, node);
   float epsilon = 1e-5f; // ONNX's default
   for (int i = 0; i < node.attribute_size(); ++i)
      if (node.attribute(i).name() == "epsilon")
         epsilon = node.attribute(i).f();
   if (node.input_size() < 2 || node.output_size() != 1)
      throw std::runtime_error("node " + node.name() + " (" + node.op_type() + ") is malformed");
   return std::make_unique<LayerNorm>(node.input(0), node.input(1), InputOrEmpty(node, 2), node.output(0), epsilon);
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
