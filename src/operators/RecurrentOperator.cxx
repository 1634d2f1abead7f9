#include "RecurrentOperator.hxx"

#include "AlignedBuffer.hxx"
#include "GeneratedMath.hxx"
#include "NodeReading.hxx"

#include "SOFIE/SOFIE_common.hxx"

#include <stdexcept>
#include <utility>

namespace SOFIE {
namespace PyTorch {
namespace operators {

namespace {

std::string Cleaned(const std::string &name)
{
   return name.empty() ? name : UTILITY::Clean_name(name);
}

} // namespace

RecurrentOperator::RecurrentOperator(Spec spec) : fSpec(std::move(spec))
{
   fSpec.x = Cleaned(fSpec.x);
   fSpec.wt = Cleaned(fSpec.wt);
   fSpec.rt = Cleaned(fSpec.rt);
   for (auto *names : {&fSpec.biases, &fSpec.initialStates, &fSpec.outputs})
      for (auto &name : *names)
         name = Cleaned(name);
   fStates = fSpec.initialStates.size();
   // Views into fSpec, which no longer changes: the model reads them for tensor lifetimes.
   fInputTensorNames = {fSpec.x, fSpec.wt, fSpec.rt};
   for (auto *names : {&fSpec.biases, &fSpec.initialStates})
      for (const auto &name : *names)
         if (!name.empty())
            fInputTensorNames.emplace_back(name);
   for (const auto &name : fSpec.outputs)
      if (!name.empty())
         fOutputTensorNames.emplace_back(name);
}

RecurrentOperator::Spec RecurrentOperator::ReadNode(RModelParser_ONNX &parser, const onnx::NodeProto &node,
                                                    const std::string &kind, size_t gates, int biases, int states)
{
   FloatOnly(parser, node);
   Spec spec;
   spec.kind = kind;
   spec.gates = gates;
   spec.hidden = static_cast<size_t>(IntAttribute(node, "hidden_size"));
   spec.x = InputOrEmpty(node, 0);
   spec.wt = InputOrEmpty(node, 1);
   spec.rt = InputOrEmpty(node, 2);
   for (int i = 0; i < biases; ++i)
      spec.biases.push_back(InputOrEmpty(node, 3 + i));
   for (int i = 0; i < states; ++i)
      spec.initialStates.push_back(InputOrEmpty(node, 3 + biases + i));
   spec.outputs = Outputs(node, 1 + states);
   return spec;
}

void RecurrentOperator::Initialize(RModel &model)
{
   const std::string what = "SofiePyTorch " + fSpec.kind + " operator: ";
   auto shapeOf = [&](const std::string &name) {
      if (!model.CheckIfTensorAlreadyExist(name))
         throw std::runtime_error(what + "tensor " + name + " is not in the model");
      return model.GetTensorShape(name);
   };
   auto require = [&](bool ok, const std::string &message) {
      if (!ok)
         throw std::runtime_error(what + message);
   };
   if (!model.UseSession())
      throw std::runtime_error(what + "needs the generated Session class (its work buffers live there)");

   const size_t gh = fSpec.gates * fSpec.hidden;
   require(model.CheckIfTensorAlreadyExist(fSpec.x), "tensor " + fSpec.x + " is not in the model");
   auto x = model.GetDimTensorShape(fSpec.x);
   require(x.size() == 3 && !x[0].isParam && !x[2].isParam,
           "input " + fSpec.x + " must be (steps, batch, features), with only the batch chosen at run time");
   fSteps = x[0].dim;
   fBatch = x[1];
   fInputSize = x[2].dim;
   require(fSteps > 0 && (fBatch.isParam || fBatch.dim > 0) && fInputSize > 0 && fSpec.hidden > 0,
           "empty input or hidden size");
   require(ConvertShapeToLength(shapeOf(fSpec.wt)) == fInputSize * gh, "weights " + fSpec.wt + " must be (I, G*H)");
   require(ConvertShapeToLength(shapeOf(fSpec.rt)) == fSpec.hidden * gh, "recurrence " + fSpec.rt + " must be (H, G*H)");
   for (const auto &bias : fSpec.biases)
      require(bias.empty() || ConvertShapeToLength(shapeOf(bias)) == gh, "bias " + bias + " must have G*H values");
   for (const auto &state : fSpec.initialStates) {
      if (state.empty())
         continue;
      require(model.CheckIfTensorAlreadyExist(state), "tensor " + state + " is not in the model");
      auto shape = model.GetDimTensorShape(state);
      // A run-time batch may reach the state under another name (its shape is computed).
      const bool batchMatches =
         shape.size() == 3 && (shape[1].isParam || fBatch.isParam || shape[1].dim == fBatch.dim);
      require(batchMatches && !shape[2].isParam && shape[2].dim == fSpec.hidden,
              "initial state " + state + " must be (1, batch, hidden)");
   }
   for (const auto &name : fInputTensorNames)
      require(model.GetTensorType(std::string(name)) == ETensorType::FLOAT, "tensor " + std::string(name) + " is not float");

   fInputGemm.emplace(fInputSize, gh);
   fRecurrentGemm.emplace(fSpec.hidden, gh);

   const Dim hidden{fSpec.hidden};
   const std::vector<std::vector<Dim>> shapes = {
      {Dim{fSteps}, Dim{1}, fBatch, hidden}, {Dim{1}, fBatch, hidden}, {Dim{1}, fBatch, hidden}};
   for (size_t i = 0; i < fSpec.outputs.size() && i < shapes.size(); ++i)
      if (!fSpec.outputs[i].empty() && !model.CheckIfTensorAlreadyExist(fSpec.outputs[i]))
         model.AddIntermediateTensor(fSpec.outputs[i], ETensorType::FLOAT, shapes[i]);
}

std::string RecurrentOperator::Batch(size_t factor) const
{
   if (!fBatch.isParam)
      return std::to_string(fBatch.dim * factor);
   return factor == 1 ? fBatch.param : "(" + fBatch.param + " * " + std::to_string(factor) + ")";
}

std::string RecurrentOperator::BufferSize() const
{
   // One step's input projection (B x G*H), the scratch rows (B x G*H), then the states.
   const size_t gh = fSpec.gates * fSpec.hidden;
   return Batch(2 * gh + fStates * fSpec.hidden);
}

std::string RecurrentOperator::Buffer(const std::string &opName, const std::string &part) const
{
   return "fVec_op_" + opName + "_" + part;
}

std::vector<std::string> RecurrentOperator::GetStdLibs()
{
   std::vector<std::string> libs = {"cmath", "cstdint", "cstring"};
   for (const auto &lib : PackedGemm::StdLibs())
      libs.push_back(lib);
   return libs;
}

std::string RecurrentOperator::GenerateSessionMembersCode(std::string opName)
{
   // One work buffer per operator, its start aligned to 64 bytes. The inference function
   // sees the Session as const: it writes through a pointer member. The constructor
   // sizes it when the batch is chosen at run time, and packs the weights
   // (GenerateInitCode).
   fOpName = opName;
   return "std::vector<float> " + Buffer(opName, "buffer") + ";\nfloat *" + Buffer(opName, "work") + " = nullptr;\n" +
          fInputGemm->MemberCode(Buffer(opName, "wt")) + fRecurrentGemm->MemberCode(Buffer(opName, "rt"));
}

std::string RecurrentOperator::PackedWeightsCode(const PackedGemm &gemm, const std::string &packed,
                                                 const std::string &weights, const std::string &bias) const
{
   const std::string member = Buffer(fOpName, packed);
   auto tensor = [](const std::string &name) { return name.empty() ? name : "tensor_" + name; };
   if (!DoubleLastGate())
      return gemm.PackCode(member, tensor(weights), gemm.N(), 1, tensor(bias));
   // The last gate's columns of W and of the bias, times 2 (exact in float), in copies
   // that are packed and then dropped.
   const size_t k = gemm.K(), n = gemm.N(), first = n - fSpec.hidden;
   std::ostringstream out;
   out << "   {\n"
       << "      std::vector<float> sp_w(tensor_" << weights << ", tensor_" << weights << " + " << k * n << ");\n"
       << "      for (std::size_t sp_k = 0; sp_k < " << k << "; ++sp_k)\n"
       << "         for (std::size_t sp_n = " << first << "; sp_n < " << n << "; ++sp_n)\n"
       << "            sp_w[sp_k * " << n << " + sp_n] *= 2.0f;\n";
   if (!bias.empty())
      out << "      std::vector<float> sp_b(tensor_" << bias << ", tensor_" << bias << " + " << n << ");\n"
          << "      for (std::size_t sp_n = " << first << "; sp_n < " << n << "; ++sp_n)\n"
          << "         sp_b[sp_n] *= 2.0f;\n";
   out << gemm.PackCode(member, "sp_w.data()", n, 1, bias.empty() ? "" : "sp_b.data()", "      ") << "   }\n";
   return out.str();
}

std::string RecurrentOperator::GenerateInitCode()
{
   const std::string buffer = Buffer(fOpName, "buffer"), work = Buffer(fOpName, "work");
   const std::string inputBias = fSpec.biases.empty() ? std::string() : fSpec.biases[0];
   return "   " + buffer + ".resize(" + BufferSize() + " + " + std::to_string(kAlignmentSlack) + ");\n   " + work +
          " = " + AlignedStart(buffer) + ";\n" + PackedWeightsCode(*fInputGemm, "wt", fSpec.wt, inputBias) +
          PackedWeightsCode(*fRecurrentGemm, "rt", fSpec.rt, RecurrentBias());
}

std::string RecurrentOperator::ProductCode(const PackedGemm &gemm, const std::string &packed, bool bias,
                                           const std::string &rows, const std::string &lhs, const std::string &target,
                                           bool accumulate, const std::string &indent,
                                           const std::string &activation) const
{
   PackedGemmCall call;
   call.m = rows;
   call.a = lhs;
   call.lda = std::to_string(gemm.K());
   call.packed = "this->" + Buffer(fOpName, packed);
   call.bias = bias;
   call.c = target;
   call.ldc = std::to_string(gemm.N());
   call.accumulate = accumulate;
   call.activation = activation;
   call.indent = indent;
   return gemm.CallCode(call);
}

void RecurrentOperator::EmitRecurrentProduct(std::ostream &out, const std::string &in, const std::string &target,
                                             bool accumulate, const std::string &activation) const
{
   out << ProductCode(*fRecurrentGemm, "rt", !RecurrentBias().empty(), Batch(), "sp_hp", target, accumulate, in,
                      activation);
}

std::string RecurrentOperator::Generate(std::string opName)
{
   const size_t h = fSpec.hidden, gh = fSpec.gates * fSpec.hidden;
   const std::string bh = Batch(h);
   const std::string in = "      ";
   const auto &outputs = fSpec.outputs;
   const bool inputBias = !fSpec.biases.empty() && !fSpec.biases[0].empty();
   std::ostringstream out;
   out << "   // SofiePyTorch " << fSpec.kind << ": " << fSteps
       << " steps, batch " << fBatch.GetVal() << ", " << fInputSize << " features, hidden " << h << "\n"
       << "   {\n"
       << ActivationLambdas(in)
       << in << "float *sp_g = this->" << Buffer(opName, "work") << ";\n"
       << in << "float *sp_scratch = sp_g + " << Batch(gh) << ";\n"
       << in << "float *sp_state = sp_scratch + " << Batch(gh) << ";\n";
   if (fStates > 1)
      out << in << "float *sp_c = sp_state + " << bh << ";\n";

   // States start from the given tensors, or from zero.
   const char *stateVars[] = {"sp_state", "sp_c"};
   for (size_t s = 0; s < fStates; ++s) {
      const std::string &initial = fSpec.initialStates[s];
      if (initial.empty())
         out << in << "std::memset(" << stateVars[s] << ", 0, " << bh << " * sizeof(float));\n";
      else
         out << in << "std::memcpy(" << stateVars[s] << ", tensor_" << initial << ", " << bh << " * sizeof(float));\n";
   }

   // When Y is wanted, each step writes h straight into its slot of Y, and the next step
   // reads it from there (no copy per step); else h is updated in sp_state.
   const std::string y = outputs.empty() || outputs[0].empty() ? std::string() : "tensor_" + outputs[0];
   // Each step's input projection, bias + x_t WT, just before the step: its B x G*H block
   // stays in L1 for the recurrent product and the gates. (All steps at once in one product
   // before the loop made the batch-64 LSTM 30% slower: an S*B x G*H result out to L2 and
   // back, for no gain in the product itself.)
   out << in << "for (size_t sp_time = 0; sp_time < " << fSteps << "; ++sp_time) {\n";
   if (y.empty())
      out << in << "   const float *sp_hp = sp_state;\n" << in << "   float *sp_h = sp_state;\n";
   else
      out << in << "   const float *sp_hp = sp_time == 0 ? sp_state : " << y << " + (sp_time - 1) * " << bh << ";\n"
          << in << "   float *sp_h = " << y << " + sp_time * " << bh << ";\n";
   out << ProductCode(*fInputGemm, "wt", inputBias, Batch(), "tensor_" + fSpec.x + " + sp_time * " + Batch(fInputSize),
                      "sp_g", false, in + "   ");
   EmitStep(out, in + "   ");
   out << in << "}\n";
   const std::string finalH = y.empty() ? "sp_state" : y + " + " + std::to_string(fSteps - 1) + " * " + bh;
   for (size_t s = 0; s < fStates; ++s)
      if (outputs.size() > s + 1 && !outputs[s + 1].empty())
         out << in << "std::memcpy(tensor_" << outputs[s + 1] << ", " << (s == 0 ? finalH : "sp_c") << ", " << bh
             << " * sizeof(float));\n";
   out << "   }\n";
   return out.str();
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
