// Base of our LSTM, GRU and RNN operators: what they share (shapes, buffers, the time
// loop, the input and recurrent products).
//
// Why our own: SOFIE 0.1.0's recurrent code makes one small BLAS call per gate and step,
// broadcasts its biases to every step and batch entry in the weight file, and runs its
// activations as scalar double-precision loops. Here each step is two products with
// weights packed once per Session (PackedGemm), x_t(B,I) x WT(I,G*H) + bias and
// h(B,H) x RT(H,G*H), then vectorisable loops over the gates. OpenBLAS 0.3.21 re-packs
// RT on every call and, on this project's Xeon, runs its SSE3 (Prescott) kernel: with the
// packed products (and the gate loops of LSTM.cxx, the h written straight into Y) the
// batch-64 LSTM went from 677 to 322 µs and the GRU from 540 to 272 µs, batch 1 from 5.4
// to 4.3 and 3.5 to 3.0 µs, against sgemm above batch 4 and our former loops below it
// (bench/run.py --models lstm,gru, 3 rounds each, 2026-11-30).
//
// The nodes come from the Python front end (sofie_pytorch/graph/fast_operators.py), which
// prepares the weights: W and R transposed, as WT (I, G*H) and RT (H, G*H), biases
// summed where the cell allows it. Layout 0 only: X is (S, B, I); Y is (S, 1, B, H); states (1, B, H).
#ifndef SOFIE_PYTORCH_OPERATORS_RECURRENTOPERATOR_HXX
#define SOFIE_PYTORCH_OPERATORS_RECURRENTOPERATOR_HXX

#include "PackedGemm.hxx"

#include "SOFIE/RModel.hxx"
#include "SOFIE/RModelParser_ONNX.hxx"
#include "SOFIE/ROperator.hxx"

#include <optional>
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
   std::vector<std::string> GetStdLibs() override;

protected:
   /// Code for one time step. In scope: sp_g (this step's input projection, B rows of
   /// G*H, bias 0 added), sp_hp (the previous h, B rows of H, read-only), sp_h (where the
   /// new h goes: Y's slot of this step, or sp_hp itself when Y is not wanted), sp_c (the
   /// cell state, updated in place), sp_scratch (B*G*H floats), tensor pointers, and the
   /// activation lambdas.
   virtual void EmitStep(std::ostream &out, const std::string &indent) const = 0;

   /// target[b][0:G*H] = (target[b] if `accumulate`) + sp_hp[b] x RT (+ RecurrentBias()),
   /// for the B rows of this step, then `activation` (a lambda's name, or "") applied to
   /// each value while in a register.
   void EmitRecurrentProduct(std::ostream &out, const std::string &indent, const std::string &target,
                             bool accumulate, const std::string &activation = "") const;

   /// The bias that belongs to the recurrent product (GRU's, which r multiplies), or "".
   virtual std::string RecurrentBias() const { return ""; }

   /// Whether the packed weights and biases carry the last gate's columns times 2, so that
   /// sp_g holds 2a there: then tanh(a) = 2 sigmoid(2a) - 1 lets one flat sigmoid loop
   /// cover every gate of the step (LSTM).
   virtual bool DoubleLastGate() const { return false; }

   const std::string &Bias(size_t i) const { return fSpec.biases[i]; }
   /// The batch size times `factor`, as C++ code: a number, or an expression of the
   /// run-time size parameter when the batch is chosen at run time.
   std::string Batch(size_t factor = 1) const;
   size_t Hidden() const { return fSpec.hidden; }
   size_t Gates() const { return fSpec.gates; }

private:
   /// Code for target (rows x N) (+)= lhs (rows x K) . W [+ its bias], W packed in the
   /// Session member Buffer(opName, packed).
   std::string ProductCode(const PackedGemm &gemm, const std::string &packed, bool bias, const std::string &rows,
                           const std::string &lhs, const std::string &target, bool accumulate,
                           const std::string &indent, const std::string &activation = "") const;
   std::string Buffer(const std::string &opName, const std::string &part) const;
   /// Constructor code packing `weights` (K x G*H) and `bias` (tensor names, bias may be
   /// "") into the Session member Buffer(opName, packed), doubling the last gate if asked.
   std::string PackedWeightsCode(const PackedGemm &gemm, const std::string &packed, const std::string &weights,
                                 const std::string &bias) const;
   /// Floats of the work buffer, as C++ code: one step's input projection, the scratch
   /// rows and the states.
   std::string BufferSize() const;

   Spec fSpec;
   Dim fBatch;
   size_t fSteps = 0, fInputSize = 0;
   std::string fOpName; // set when the session members are generated, for the init code
   size_t fStates = 0;
   /// x_t WT + bias and h RT [+ GRU's recurrent bias], the weights packed once per
   /// Session; set by Initialize.
   std::optional<PackedGemm> fInputGemm, fRecurrentGemm;
};

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE

#endif
