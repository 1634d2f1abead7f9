// Dense layer: Y = A . W [+ B] [then ReLU], on the packed GEMM (PackedGemm.hxx).
// Node SofiePyTorchDense: inputs A (..., K), W (K, N, a constant; N, K with transB),
// [B (N, a constant)]; output Y (..., N); attributes relu (1: ReLU folded in) and transB
// (1: W is stored N x K, as torch's Linear keeps it). A's leading dimensions, any of them
// chosen at run time, are the GEMM's rows. fast_operators.py gives it the Gemm and MatMul
// nodes with a constant right operand and folds a following Relu. W keeps its name and
// layout (ROOT users look weights up by name, e.g. "0weight"): the packing reads it
// transposed.
//
// Why our own: the engine's Gemm calls OpenBLAS, which re-packs the constant W on every
// call (most of the time at batch 64) and costs about 1 µs per call at batch 1; here W is
// packed once, when the Session is constructed, and the bias and ReLU are applied in the
// GEMM's registers.
#include "NodeReading.hxx"
#include "Operators.hxx"
#include "PackedGemm.hxx"
#include "ShapeCode.hxx"

#include "SOFIE/RModel.hxx"
#include "SOFIE/SOFIE_common.hxx"

#include <memory>
#include <sstream>
#include <stdexcept>

namespace SOFIE {
namespace PyTorch {
namespace operators {

namespace {

class Dense final : public ROperator {
public:
   Dense(std::string a, std::string w, std::string b, std::string y, bool relu, bool transB)
      : fA(UTILITY::Clean_name(a)), fW(UTILITY::Clean_name(w)), fB(b.empty() ? b : UTILITY::Clean_name(b)),
        fY(UTILITY::Clean_name(y)), fRelu(relu), fTransB(transB)
   {
      fInputTensorNames = {fA, fW};
      if (!fB.empty())
         fInputTensorNames.emplace_back(fB);
      fOutputTensorNames = {fY};
   }

   std::vector<std::string> GetStdLibs() override { return PackedGemm::StdLibs(); }

   void Initialize(RModel &model) override
   {
      const std::string what = "SofiePyTorch Dense operator: ";
      if (!model.UseSession())
         throw std::runtime_error(what + "needs the generated Session class (the packed weights live there)");
      for (const auto &name : fInputTensorNames)
         if (!model.CheckIfTensorAlreadyExist(std::string(name)))
            throw std::runtime_error(what + "tensor " + std::string(name) + " is not in the model");
      if (!model.IsInitializedTensor(fW) || (!fB.empty() && !model.IsInitializedTensor(fB)))
         throw std::runtime_error(what + "the weights " + fW + " and bias must be constants");
      const auto w = model.GetTensorShape(fW);
      auto a = model.GetDimTensorShape(fA);
      if (w.size() != 2)
         throw std::runtime_error(what + "the weights " + fW + " must be a matrix");
      const size_t k = fTransB ? w[1] : w[0], n = fTransB ? w[0] : w[1];
      if (a.empty() || a.back().isParam || a.back().dim != k)
         throw std::runtime_error(what + "the weights " + fW + " do not match the input " + fA);
      if (!fB.empty() && ConvertShapeToLength(model.GetTensorShape(fB)) != n)
         throw std::runtime_error(what + "the bias " + fB + " must have one value per output column");
      fGemm = std::make_unique<PackedGemm>(k, n);
      // The rows: A's leading dimensions. A plain number when all are fixed: the GEMM then
      // generates only the tiles it uses.
      fRows = RowsOf(a);
      std::vector<Dim> y(a.begin(), a.end() - 1);
      y.emplace_back(Dim{n});
      if (!model.CheckIfTensorAlreadyExist(fY))
         model.AddIntermediateTensor(fY, ETensorType::FLOAT, y);
   }

   std::string GenerateSessionMembersCode(std::string opName) override
   {
      fMember = "fPacked_op_" + opName;
      return fGemm->MemberCode(fMember);
   }

   std::string GenerateInitCode() override
   {
      // W (k, n) is at k * N + n, or at n * K + k when stored transposed.
      const size_t rowStride = fTransB ? 1 : fGemm->N(), columnStride = fTransB ? fGemm->K() : 1;
      return fGemm->PackCode(fMember, "tensor_" + fW, rowStride, columnStride, fB.empty() ? "" : "tensor_" + fB);
   }

   std::string Generate(std::string) override
   {
      PackedGemmCall call;
      call.m = fRows;
      call.a = "tensor_" + fA;
      call.lda = std::to_string(fGemm->K());
      call.packed = "this->" + fMember;
      call.bias = !fB.empty();
      call.c = "tensor_" + fY;
      call.ldc = std::to_string(fGemm->N());
      call.relu = fRelu;
      return "   // SofiePyTorch Dense: " + fA + " -> " + fY + "\n" + fGemm->CallCode(call);
   }

private:
   std::string fA, fW, fB, fY, fRows, fMember;
   bool fRelu, fTransB;
   std::unique_ptr<PackedGemm> fGemm;
};

} // namespace

std::unique_ptr<ROperator> ParseDense(RModelParser_ONNX &parser, const onnx::NodeProto &node)
{
   FloatOnly(parser, node);
   bool relu = false, transB = false;
   for (int i = 0; i < node.attribute_size(); ++i) {
      if (node.attribute(i).name() == "relu")
         relu = node.attribute(i).i() != 0;
      else if (node.attribute(i).name() == "transB")
         transB = node.attribute(i).i() != 0;
   }
   return std::make_unique<Dense>(node.input(0), node.input(1), InputOrEmpty(node, 2), node.output(0), relu,
                                  transB);
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
