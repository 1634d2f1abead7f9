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

// Up to this batch size the matrix products are written as loops (vectorised over the
// G*H gate outputs); beyond it sgemm is faster than the loops.
constexpr size_t kLoopBatchLimit = 4;

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

bool RecurrentOperator::SmallBatch() const
{
   return !fBatch.isParam && fBatch.dim <= kLoopBatchLimit;
}

size_t RecurrentOperator::WeightFloats() const
{
   // RT, then WT, each padded to whole 64-byte lines.
   const size_t gh = fSpec.gates * fSpec.hidden;
   return WholeLines(fSpec.hidden * gh) + WholeLines(fInputSize * gh);
}

std::string RecurrentOperator::BufferSize() const
{
   const size_t gh = fSpec.gates * fSpec.hidden;
   return std::to_string(WeightFloats()) + " + " + Batch(fSteps * gh + gh + fStates * fSpec.hidden);
}

std::string RecurrentOperator::Buffer(const std::string &opName, const std::string &part) const
{
   return "fVec_op_" + opName + "_" + part;
}

std::string RecurrentOperator::GenerateSessionMembersCode(std::string opName)
{
   // One work buffer per operator, its start aligned to 64 bytes. The inference function
   // sees the Session as const: it writes through a pointer member. The constructor
   // sizes it when the batch is chosen at run time, and copies the weights in
   // (GenerateInitCode).
   fOpName = opName;
   return "std::vector<float> " + Buffer(opName, "buffer") + ";\nfloat *" + Buffer(opName, "work") + " = nullptr;\n";
}

std::string RecurrentOperator::GenerateInitCode()
{
   // The weights are copied to 64-byte boundaries: where the engine's own weight vectors
   // happened to start 48 bytes into a cache line, the batch-1 LSTM ran 30% slower.
   const size_t gh = fSpec.gates * fSpec.hidden;
   const std::string buffer = Buffer(fOpName, "buffer"), work = Buffer(fOpName, "work");
   return "   " + buffer + ".resize(" + BufferSize() + " + " + std::to_string(kAlignmentSlack) + ");\n   " + work +
          " = " + AlignedStart(buffer) + ";\n   std::memcpy(" + work + ", tensor_" + fSpec.rt + ", " +
          std::to_string(fSpec.hidden * gh) + " * sizeof(float));\n   std::memcpy(" + work + " + " +
          std::to_string(WholeLines(fSpec.hidden * gh)) + ", tensor_" + fSpec.wt + ", " + std::to_string(fInputSize * gh) +
          " * sizeof(float));\n";
}

void RecurrentOperator::EmitProduct(std::ostream &out, const std::string &in, const std::string &rows, size_t depth,
                                    const std::string &lhs, const std::string &matrix, const std::string &target,
                                    bool accumulate) const
{
   const size_t gh = fSpec.gates * fSpec.hidden;
   if (SmallBatch()) {
      // Each row of the result is summed in a local array rather than in the target, and
      // four k at a time: the compiler may keep the array in memory, and then each pass
      // over it is a store-to-load round trip on the critical path. 2-4x faster at these
      // sizes than one BLAS call.
      const size_t grouped = depth / 4 * 4;
      out << in << "for (size_t sp_row = 0; sp_row < " << rows << "; ++sp_row) {\n"
          << in << "   const float *sp_lhs = " << lhs << " + sp_row * " << depth << ";\n"
          << in << "   float *sp_out = " << target << " + sp_row * " << gh << ";\n"
          << in << "   alignas(64) float sp_acc[" << gh << "];\n"
          << in << "   for (size_t sp_j = 0; sp_j < " << gh << "; ++sp_j)\n"
          << in << "      sp_acc[sp_j] = " << (accumulate ? "sp_out[sp_j]" : "0.0f") << ";\n"
          << in << "   for (size_t sp_k = 0; sp_k < " << grouped << "; sp_k += 4) {\n"
          << in << "      const float *sp_m = " << matrix << " + sp_k * " << gh << ";\n"
          << in << "      for (size_t sp_j = 0; sp_j < " << gh << "; ++sp_j)\n"
          << in << "         sp_acc[sp_j] += (sp_lhs[sp_k] * sp_m[sp_j] + sp_lhs[sp_k + 1] * sp_m[" << gh
          << " + sp_j]) + (sp_lhs[sp_k + 2] * sp_m[" << 2 * gh << " + sp_j] + sp_lhs[sp_k + 3] * sp_m[" << 3 * gh
          << " + sp_j]);\n"
          << in << "   }\n"
          << in << "   for (size_t sp_k = " << grouped << "; sp_k < " << depth << "; ++sp_k) {\n"
          << in << "      const float *sp_m = " << matrix << " + sp_k * " << gh << ";\n"
          << in << "      for (size_t sp_j = 0; sp_j < " << gh << "; ++sp_j)\n"
          << in << "         sp_acc[sp_j] += sp_lhs[sp_k] * sp_m[sp_j];\n"
          << in << "   }\n"
          << in << "   for (size_t sp_j = 0; sp_j < " << gh << "; ++sp_j)\n"
          << in << "      sp_out[sp_j] = sp_acc[sp_j];\n"
          << in << "}\n";
   } else {
      // Column-major view: target^T (G*H x rows) (+)= matrix^T (G*H x depth) * lhs^T.
      out << in << "{\n"
          << in << "   char sp_n = 'N';\n"
          << in << "   int sp_m = " << gh << ", sp_cols = int(" << rows << "), sp_k = " << depth << ";\n"
          << in << "   float sp_one = 1.0f, sp_beta = " << (accumulate ? "1.0f" : "0.0f") << ";\n"
          << in << "   BLAS::sgemm_(&sp_n, &sp_n, &sp_m, &sp_cols, &sp_k, &sp_one, " << matrix << ", &sp_m, " << lhs
          << ", &sp_k, &sp_beta, " << target << ", &sp_m);\n"
          << in << "}\n";
   }
}

void RecurrentOperator::EmitRecurrentProduct(std::ostream &out, const std::string &in, const std::string &target) const
{
   EmitProduct(out, in, Batch(), fSpec.hidden, "sp_h", "sp_rt", target, true);
}

std::string RecurrentOperator::Generate(std::string opName)
{
   const size_t h = fSpec.hidden, gh = fSpec.gates * fSpec.hidden;
   const std::string bh = Batch(h);
   const std::string in = "      ";
   const auto &outputs = fSpec.outputs;
   std::ostringstream out;
   out << "   // SofiePyTorch " << fSpec.kind << ": " << fSteps
       << " steps, batch " << fBatch.GetVal() << ", " << fInputSize << " features, hidden " << h << "\n"
       << "   {\n"
       << ActivationLambdas(in)
       << in << "const float *sp_rt = this->" << Buffer(opName, "work") << ";\n"
       << in << "const float *sp_wt = sp_rt + " << WholeLines(h * gh) << ";\n"
       << in << "float *sp_gx = this->" << Buffer(opName, "work") << " + " << WeightFloats() << ";\n"
       << in << "float *sp_scratch = sp_gx + " << Batch(fSteps * gh) << ";\n"
       << in << "float *sp_h = sp_scratch + " << Batch(gh) << ";\n";
   if (fStates > 1)
      out << in << "float *sp_c = sp_h + " << bh << ";\n";

   // Input projection for every step at once: sp_gx (S*B x G*H) = bias + X WT.
   const std::string &inputBias = fSpec.biases.empty() ? std::string() : fSpec.biases[0];
   if (!inputBias.empty())
      out << in << "for (size_t sp_r = 0; sp_r < " << Batch(fSteps) << "; ++sp_r)\n"
          << in << "   std::memcpy(sp_gx + sp_r * " << gh << ", tensor_" << inputBias << ", " << gh
          << " * sizeof(float));\n";
   EmitProduct(out, in, Batch(fSteps), fInputSize, "tensor_" + fSpec.x, "sp_wt", "sp_gx",
               !inputBias.empty());

   // States start from the given tensors, or from zero.
   const char *stateVars[] = {"sp_h", "sp_c"};
   for (size_t s = 0; s < fStates; ++s) {
      const std::string &initial = fSpec.initialStates[s];
      if (initial.empty())
         out << in << "std::memset(" << stateVars[s] << ", 0, " << bh << " * sizeof(float));\n";
      else
         out << in << "std::memcpy(" << stateVars[s] << ", tensor_" << initial << ", " << bh << " * sizeof(float));\n";
   }

   out << in << "for (size_t sp_time = 0; sp_time < " << fSteps << "; ++sp_time) {\n"
       << in << "   float *sp_g = sp_gx + sp_time * " << Batch(gh) << ";\n";
   EmitStep(out, in + "   ");
   if (!outputs.empty() && !outputs[0].empty())
      out << in << "   std::memcpy(tensor_" << outputs[0] << " + sp_time * " << bh << ", sp_h, " << bh
          << " * sizeof(float));\n";
   out << in << "}\n";
   for (size_t s = 0; s < fStates; ++s)
      if (outputs.size() > s + 1 && !outputs[s + 1].empty())
         out << in << "std::memcpy(tensor_" << outputs[s + 1] << ", " << stateVars[s] << ", " << bh
             << " * sizeof(float));\n";
   out << "   }\n";
   return out.str();
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
