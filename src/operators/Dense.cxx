// Dense layer: Y = epilogue(A . W [+ B] [then ReLU]), on the packed GEMM (PackedGemm.hxx).
// Node SofiePyTorchDense: inputs A (..., K), W (K, N, a constant; N, K with transB),
// [B (N, a constant), or ""], then the epilogue's tensors; output Y (..., N); attributes
// relu (1: ReLU folded in) and transB (1: W is stored N x K, as torch's Linear keeps it).
// A's leading dimensions, any of them chosen at run time, are the GEMM's rows.
// fast_operators.py gives it the Gemm and MatMul nodes with a constant right operand;
// fusion.py folds a following bias Add and Relu, then a following fused element-wise
// program (a GELU, a residual Add): the attributes of ElementwiseProgram.hxx, plus
// result_input, the program input that is the GEMM's result; its other inputs, in order,
// are the node's inputs from the 4th on, float tensors of Y's shape. W keeps its name and
// layout (ROOT users look weights up by name, e.g. "0weight"): the packing reads it
// transposed.
//
// Why our own: the engine's Gemm calls OpenBLAS, which re-packs the constant W on every
// call (most of the time at batch 64) and costs about 1 µs per call at batch 1; here W is
// packed once, when the Session is constructed, and the bias and ReLU are applied in the
// GEMM's registers.
#include "ElementwiseProgram.hxx"
#include "GeneratedMath.hxx"
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
   Dense(std::string a, std::string w, std::string b, std::string y, bool relu, bool transB,
         std::unique_ptr<ElementwiseProgram> epilogue, std::size_t resultInput)
      : fA(UTILITY::Clean_name(a)), fW(UTILITY::Clean_name(w)), fB(b.empty() ? b : UTILITY::Clean_name(b)),
        fY(UTILITY::Clean_name(y)), fRelu(relu), fTransB(transB), fEpilogue(std::move(epilogue)),
        fResultInput(resultInput)
   {
      fInputTensorNames = {fA, fW};
      if (!fB.empty())
         fInputTensorNames.emplace_back(fB);
      if (fEpilogue) {
         for (auto &name : fEpilogue->inputs) {
            if (!name.empty()) {
               name = UTILITY::Clean_name(name);
               fInputTensorNames.emplace_back(name);
            }
         }
      }
      fOutputTensorNames = {fY};
   }

   std::vector<std::string> GetStdLibs() override
   {
      auto libs = PackedGemm::StdLibs();
      if (fEpilogue)
         libs.insert(libs.end(), {"algorithm", "cstring", "limits"});
      return libs;
   }

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
      if (fEpilogue) {
         // the program's tensors are read at the result's own index: they have Y's shape
         for (const auto &name : fEpilogue->inputs)
            if (!name.empty() && (model.GetTensorType(name) != ETensorType::FLOAT ||
                                  ConvertDimShapeToString(model.GetDimTensorShape(name)) != ConvertDimShapeToString(y)))
               throw std::runtime_error(what + "the epilogue's input " + name + " must be a float tensor of shape " +
                                        ConvertDimShapeToString(y));
         fEpilogueTypes = ElementwiseValueTypes(
            *fEpilogue, std::vector<ETensorType>(fEpilogue->inputs.size(), ETensorType::FLOAT));
         if (fEpilogue->outputValues.size() != 1 ||
             fEpilogueTypes.at(static_cast<std::size_t>(fEpilogue->outputValues[0])) != ETensorType::FLOAT)
            throw std::runtime_error(what + "the epilogue must compute one float value");
      }
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
      const std::string head = "   // SofiePyTorch Dense: " + fA + " -> " + fY + "\n";
      if (!fEpilogue)
         return head + fGemm->CallCode(call);
      // The element-wise program, applied by the GEMM to each panel of Y it has just
      // written (in L1), instead of a second operator's pass over Y and its own buffer.
      const std::string in = "      ";
      std::string code = head + "   {\n" + ActivationLambdas(in) + ElementwiseLambdas(in) + in +
                         "auto sp_epilogue = [&](float sp_result, std::size_t sp_at) -> float {\n";
      for (std::size_t k = 0; k < fEpilogue->inputs.size(); ++k)
         code += in + "   const float sp_v" + std::to_string(k) + " = " +
                 (k == fResultInput ? std::string("sp_result") : "tensor_" + fEpilogue->inputs[k] + "[sp_at]") + ";\n";
      code += ElementwiseBody(*fEpilogue, fEpilogueTypes, in + "   ") + in + "   return sp_v" +
              std::to_string(fEpilogue->outputValues[0]) + ";\n" + in + "};\n";
      call.epilogue = "sp_epilogue";
      call.indent = in;
      return code + fGemm->CallCode(call) + "   }\n";
   }

private:
   std::string fA, fW, fB, fY, fRows, fMember;
   bool fRelu, fTransB;
   std::unique_ptr<PackedGemm> fGemm;
   std::unique_ptr<ElementwiseProgram> fEpilogue; // null: none
   std::size_t fResultInput;                      // the GEMM's result among fEpilogue's inputs
   std::vector<ETensorType> fEpilogueTypes;
};

} // namespace

std::unique_ptr<ROperator> ParseDense(RModelParser_ONNX &parser, const onnx::NodeProto &node)
{
   FloatOnly(parser, node);
   bool relu = false, transB = false, program = false;
   int64_t resultInput = 0;
   for (int i = 0; i < node.attribute_size(); ++i) {
      const auto &name = node.attribute(i).name();
      if (name == "relu")
         relu = node.attribute(i).i() != 0;
      else if (name == "transB")
         transB = node.attribute(i).i() != 0;
      else if (name == "result_input")
         resultInput = node.attribute(i).i();
      else if (name == "ops")
         program = true;
   }
   std::unique_ptr<ElementwiseProgram> epilogue;
   if (program) {
      epilogue = std::make_unique<ElementwiseProgram>(ReadElementwiseProgram(node));
      const int64_t extra = node.input_size() - 3;
      if (extra < 0 || resultInput < 0 || resultInput > extra || epilogue->outputValues.size() != 1)
         throw std::runtime_error("node " + node.name() + " (" + node.op_type() + ") has a malformed epilogue");
      for (int i = 3; i < node.input_size(); ++i)
         epilogue->inputs.push_back(node.input(i));
      epilogue->inputs.insert(epilogue->inputs.begin() + resultInput, std::string());
   }
   return std::make_unique<Dense>(node.input(0), node.input(1), InputOrEmpty(node, 2), node.output(0), relu,
                                  transB, std::move(epilogue), static_cast<std::size_t>(resultInput));
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
