// Base of our LSTM and GRU operators: what the two share (shapes, buffers, the input
// projection for all time steps in one GEMM, the time loop, the recurrent product).
//
// Why our own: SOFIE 0.1.0's recurrent code makes one small BLAS call per gate and step,
// broadcasts its biases to every step and batch entry in the weight file, and runs its
// activations as scalar double-precision loops. Here each step is one product
// h(B,H) x RT(H,G*H) and one vectorisable loop over the gates.
//
// The nodes come from the Python front end (sofie_pytorch/graph/fast_operators.py), which
// prepares the weights: W and R transposed, as WT (I, G*H) and RT (H, G*H), biases
// summed where the cell allows it. Layout 0 only: X is (S, B, I); Y is (S, 1, B, H); states (1, B, H).
#ifndef SOFIE_PYTORCH_OPERATORS_RECURRENTOPERATOR_HXX
#define SOFIE_PYTORCH_OPERATORS_RECURRENTOPERATOR_HXX

#include "SOFIE/RModel.hxx"
#include "SOFIE/RModelParser_ONNX.hxx"
#include "SOFIE/ROperator.hxx"

#include <sstream>
#include <string>
#include <vector>

namespace SOFIE {
namespace PyTorch {
namespace operators {

class RecurrentOperator : public ROperator {
public:
   struct Spec {
      std::string kind;                       ///< "LSTM" or "GRU", for messages
      size_t gates = 0;                       ///< gate blocks of H in W and RT
      size_t hidden = 0;                      ///< H
      std::string x, wt, rt;                  ///< input, transposed weights and recurrence
      std::vector<std::string> biases;        ///< each of size gates*H (names may be empty)
      std::vector<std::string> initialStates; ///< h0[, c0]: (1,B,H) or empty
      std::vector<std::string> outputs;       ///< Y, Y_h[, Y_c]: empty when unused
   };

   explicit RecurrentOperator(Spec spec);

   /// The spec of a node whose inputs are X, WT, RT, then `biases` biases and `states`
   /// initial states, with outputs Y then the final states, and attribute hidden_size.
   static Spec ReadNode(RModelParser_ONNX &parser, const onnx::NodeProto &node, const std::string &kind, size_t gates,
                        int biases, int states);

   void Initialize(RModel &model) override;
   std::string GenerateSessionMembersCode(std::string opName) override;
   std::string GenerateInitCode() override;
   std::string Generate(std::string opName) override;
   std::vector<std::string> GetBlasRoutines() override { return {"Gemm"}; }
   std::vector<std::string> GetStdLibs() override { return {"cmath", "cstdint", "cstring"}; }

protected:
   /// Code for one time step. In scope: sp_g (this step's input projection, B rows of
   /// G*H, bias 0 added), sp_h / sp_c (state rows of H), sp_scratch (B*G*H floats),
   /// tensor pointers, and the activation lambdas.
   virtual void EmitStep(std::ostream &out, const std::string &indent) const = 0;

   /// target[b][0:G*H] (+)= sp_h[b] x RT, for the B rows of this step.
   void EmitRecurrentProduct(std::ostream &out, const std::string &indent, const std::string &target) const;

   /// target (rows x G*H) (+)= lhs (rows x depth) x matrix (depth x G*H), all row-major:
   /// loops for small batches, else one sgemm.
   void EmitProduct(std::ostream &out, const std::string &indent, const std::string &rows, size_t depth,
                    const std::string &lhs,
                    const std::string &matrix, const std::string &target, bool accumulate) const;

   const std::string &Bias(size_t i) const { return fSpec.biases[i]; }
   /// The batch size times `factor`, as C++ code: a number, or an expression of the
   /// run-time size parameter when the batch is chosen at run time.
   std::string Batch(size_t factor = 1) const;
   size_t Hidden() const { return fSpec.hidden; }
   size_t Gates() const { return fSpec.gates; }

private:
   std::string Buffer(const std::string &opName, const std::string &part) const;
   /// Floats of the work buffer, as C++ code: the aligned weight copies, then the input
   /// projection, the scratch rows and the states.
   std::string BufferSize() const;
   size_t WeightFloats() const;
   bool SmallBatch() const;

   Spec fSpec;
   Dim fBatch;
   size_t fSteps = 0, fInputSize = 0;
   std::string fOpName; // set when the session members are generated, for the init code
   size_t fStates = 0;
};

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE

#endif
