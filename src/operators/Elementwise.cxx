// A fused element-wise subgraph: one loop over the output, every node of the subgraph an
// expression on local variables, no intermediate buffers.
// Node SofiePyTorchElementwise (made by python/sofie_pytorch/graph/fusion.py): inputs are the
// tensors the subgraph reads (broadcast to the loop shape, ONNX/numpy rules); attributes:
//   ops            the subgraph's nodes, in order, as ONNX op types (kOps below);
//   args           their operands, arity of each op in turn: a value id (the node's inputs
//                  are 0..n_in-1, the result of op k is n_in+k) or -(j+1) for constants[j];
//   params         the ops' numeric attributes, kOps[].params of each op in turn;
//   constants, constant_types   scalar operands written into the code (ONNX dtype codes);
//   output_values  the value id of each output.
//
// Why our own: the engine generates one loop and one buffer per ONNX node, and scalar
// std::exp/erf/tanh calls that g++ cannot vectorise without -ffast-math. GELU, Mish,
// Softplus or masked_fill reach it as chains of 5-10 such nodes. Here the chain is one
// loop whose transcendental functions are the vectorisable float versions of
// GeneratedMath, and whose selections evaluate both sides first (see sp_select).
#include "ElementwiseProgram.hxx"
#include "GeneratedMath.hxx"
#include "NodeReading.hxx"
#include "Operators.hxx"

#include "SOFIE/RModel.hxx"
#include "SOFIE/SOFIE_common.hxx"

#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace SOFIE {
namespace PyTorch {
namespace operators {

namespace {

using Args = std::vector<std::string>;
using Params = std::vector<float>;

// What an op's result is: the type of its first (or, for Where, second) operand, bool, or
// the type given by its parameter (Cast's `to`).
enum class Result { kFirst, kSecond, kBool, kParam };

struct OpInfo {
   const char *name;
   int arity;
   int params;
   Result result;
   std::string (*emit)(const Args &a, const Params &p);
};

std::string Call(const char *f, const std::string &x)
{
   return std::string(f) + "(" + x + ")";
}

std::string Binary(const Args &a, const char *op)
{
   return "(" + a[0] + " " + op + " " + a[1] + ")";
}

// The ELU family's negative branch, computed unconditionally and then selected.
std::string EluOf(const std::string &x, float alpha)
{
   return "sp_select(" + x + " > 0.0f, " + x + ", " + FloatLiteral(alpha) + " * (sp_exp(" + x + ") - 1.0f))";
}

// Shared with fusion.py (FUSIBLE): the op types, their operand and parameter counts.
const OpInfo kOps[] = {
   {"Add", 2, 0, Result::kFirst, [](const Args &a, const Params &) { return Binary(a, "+"); }},
   {"Sub", 2, 0, Result::kFirst, [](const Args &a, const Params &) { return Binary(a, "-"); }},
   {"Mul", 2, 0, Result::kFirst, [](const Args &a, const Params &) { return Binary(a, "*"); }},
   {"Div", 2, 0, Result::kFirst, [](const Args &a, const Params &) { return Binary(a, "/"); }},
   {"Pow", 2, 0, Result::kFirst, [](const Args &a, const Params &) { return "std::pow(" + a[0] + ", " + a[1] + ")"; }},
   // NaN-propagating, as torch.maximum/minimum
   {"Max", 2, 0, Result::kFirst,
    [](const Args &a, const Params &) { return "sp_select((" + a[0] + " != " + a[0] + ") | (" + a[0] + " > " + a[1] + "), " + a[0] + ", " + a[1] + ")"; }},
   {"Min", 2, 0, Result::kFirst,
    [](const Args &a, const Params &) { return "sp_select((" + a[0] + " != " + a[0] + ") | (" + a[0] + " < " + a[1] + "), " + a[0] + ", " + a[1] + ")"; }},
   {"Neg", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return "(-" + a[0] + ")"; }},
   {"Abs", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return Call("std::abs", a[0]); }},
   {"Reciprocal", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return "(1.0f / " + a[0] + ")"; }},
   {"Sqrt", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return Call("std::sqrt", a[0]); }},
   {"Exp", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return Call("sp_exp", a[0]); }},
   {"Log", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return Call("std::log", a[0]); }},
   {"Erf", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return Call("sp_erf", a[0]); }},
   {"Tanh", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return Call("sp_tanh", a[0]); }},
   {"Sigmoid", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return Call("sp_sigmoid", a[0]); }},
   {"Softplus", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return Call("sp_softplus", a[0]); }},
   {"Mish", 1, 0, Result::kFirst,
    [](const Args &a, const Params &) { return "(" + a[0] + " * sp_tanh(sp_softplus(" + a[0] + ")))"; }},
   {"Softsign", 1, 0, Result::kFirst,
    [](const Args &a, const Params &) { return "(" + a[0] + " / (1.0f + std::abs(" + a[0] + ")))"; }},
   {"Floor", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return Call("std::floor", a[0]); }},
   {"Ceil", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return Call("std::ceil", a[0]); }},
   {"Sin", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return Call("std::sin", a[0]); }},
   {"Cos", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return Call("std::cos", a[0]); }},
   {"Sign", 1, 0, Result::kFirst,
    [](const Args &a, const Params &) { return "static_cast<float>((" + a[0] + " > 0.0f) - (" + a[0] + " < 0.0f))"; }},
   {"Relu", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return "std::max(" + a[0] + ", 0.0f)"; }},
   {"LeakyRelu", 1, 1, Result::kFirst,
    [](const Args &a, const Params &p) { return "sp_select(" + a[0] + " > 0.0f, " + a[0] + ", " + a[0] + " * " + FloatLiteral(p[0]) + ")"; }},
   {"ThresholdedRelu", 1, 1, Result::kFirst,
    [](const Args &a, const Params &p) { return "sp_select(" + a[0] + " > " + FloatLiteral(p[0]) + ", " + a[0] + ", 0.0f)"; }},
   {"Elu", 1, 1, Result::kFirst, [](const Args &a, const Params &p) { return EluOf(a[0], p[0]); }},
   {"Selu", 1, 2, Result::kFirst, [](const Args &a, const Params &p) { return "(" + FloatLiteral(p[1]) + " * " + EluOf(a[0], p[0]) + ")"; }},
   {"Celu", 1, 1, Result::kFirst,
    [](const Args &a, const Params &p) {
       return "sp_select(" + a[0] + " > 0.0f, " + a[0] + ", " + FloatLiteral(p[0]) + " * (sp_exp(" + a[0] + " / " + FloatLiteral(p[0]) + ") - 1.0f))";
    }},
   {"HardSigmoid", 1, 2, Result::kFirst,
    [](const Args &a, const Params &p) { return "std::max(0.0f, std::min(1.0f, " + FloatLiteral(p[0]) + " * " + a[0] + " + " + FloatLiteral(p[1]) + "))"; }},
   {"HardSwish", 1, 0, Result::kFirst,
    [](const Args &a, const Params &) { return "(" + a[0] + " * std::max(0.0f, std::min(1.0f, " + a[0] + " * (0x1.555556p-3f) + 0.5f)))"; }},
   {"Clip", 1, 2, Result::kFirst,
    [](const Args &a, const Params &p) { return "std::min(std::max(" + a[0] + ", " + FloatLiteral(p[0]) + "), " + FloatLiteral(p[1]) + ")"; }},
   {"Greater", 2, 0, Result::kBool, [](const Args &a, const Params &) { return Binary(a, ">"); }},
   {"Less", 2, 0, Result::kBool, [](const Args &a, const Params &) { return Binary(a, "<"); }},
   {"GreaterOrEqual", 2, 0, Result::kBool, [](const Args &a, const Params &) { return Binary(a, ">="); }},
   {"LessOrEqual", 2, 0, Result::kBool, [](const Args &a, const Params &) { return Binary(a, "<="); }},
   {"Equal", 2, 0, Result::kBool, [](const Args &a, const Params &) { return Binary(a, "=="); }},
   {"And", 2, 0, Result::kBool, [](const Args &a, const Params &) { return Binary(a, "&"); }},
   {"Or", 2, 0, Result::kBool, [](const Args &a, const Params &) { return Binary(a, "|"); }},
   {"Xor", 2, 0, Result::kBool, [](const Args &a, const Params &) { return Binary(a, "!="); }},
   {"Not", 1, 0, Result::kBool, [](const Args &a, const Params &) { return "(!" + a[0] + ")"; }},
   {"Where", 3, 0, Result::kSecond,
    [](const Args &a, const Params &) { return "sp_select(" + a[0] + ", " + a[1] + ", " + a[2] + ")"; }},
   {"Identity", 1, 0, Result::kFirst, [](const Args &a, const Params &) { return a[0]; }},
   // the conversion is written by Generate (it depends on the operand's type)
   {"Cast", 1, 1, Result::kParam, nullptr},
};

const OpInfo &Lookup(const std::string &name)
{
   for (const auto &op : kOps)
      if (name == op.name)
         return op;
   throw std::runtime_error("SofiePyTorch Elementwise operator: no fused form of " + name);
}

ETensorType FromOnnx(int64_t code)
{
   switch (code) {
   case 1: return ETensorType::FLOAT;
   case 7: return ETensorType::INT64;
   case 9: return ETensorType::BOOL;
   default: throw std::runtime_error("SofiePyTorch Elementwise operator: element type " + std::to_string(code) + " is not fused");
   }
}

// The type local variables of an element type have (bool tensors are stored as uint8_t).
std::string LocalType(ETensorType t)
{
   return t == ETensorType::BOOL ? "bool" : t == ETensorType::INT64 ? "std::int64_t" : "float";
}

std::vector<std::string> Strings(const onnx::NodeProto &node, const std::string &name)
{
   for (int i = 0; i < node.attribute_size(); ++i)
      if (node.attribute(i).name() == name)
         return node.attribute(i).strings();
   return {};
}

std::vector<float> Floats(const onnx::NodeProto &node, const std::string &name)
{
   for (int i = 0; i < node.attribute_size(); ++i)
      if (node.attribute(i).name() == name)
         return node.attribute(i).floats();
   return {};
}

std::vector<int64_t> Ints(const onnx::NodeProto &node, const std::string &name)
{
   for (int i = 0; i < node.attribute_size(); ++i)
      if (node.attribute(i).name() == name)
         return node.attribute(i).ints();
   return {};
}

bool IsNumber(const std::string &s)
{
   return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// Products of sizes that may be run-time parameters.
std::string Times(const std::string &a, const std::string &b)
{
   if (IsNumber(a) && IsNumber(b))
      return std::to_string(std::stoull(a) * std::stoull(b));
   if (a == "1")
      return b;
   if (b == "1")
      return a;
   return "(" + a + " * " + b + ")";
}

// The operands (value ids) of each op of a program.
std::vector<std::vector<int64_t>> OperandIds(const ElementwiseProgram &p)
{
   std::vector<std::vector<int64_t>> ids;
   size_t arg = 0;
   for (const auto &name : p.ops) {
      const size_t arity = static_cast<size_t>(Lookup(name).arity);
      ids.emplace_back(p.args.begin() + arg, p.args.begin() + arg + arity);
      arg += arity;
   }
   return ids;
}

// Torch's ONNX form of GELU's tanh approximation, ending at value `id`:
//   0.5 * (x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * (x * (x * x))))))
// (operands of Add and Mul in either order); x's id, or nothing. Evaluated as it stands it
// overflows (x^3 beyond 7e12, x * 2 beyond FLT_MAX/2), and under -ffast-math g++ may
// reassociate x * sigmoid(x) * x * (...) into (x * x) * 0 = NaN (silu(x) * gelu_tanh(x) at
// -1e30); sp_gelu_tanh does neither.
std::optional<int64_t> GeluTanhInput(const ElementwiseProgram &p, const std::vector<std::vector<int64_t>> &ids,
                                     int64_t id)
{
   const int64_t nin = static_cast<int64_t>(p.inputs.size());
   auto is = [&](int64_t v, const char *name) { return v >= nin && p.ops[static_cast<size_t>(v - nin)] == name; };
   auto operands = [&](int64_t v) -> const std::vector<int64_t> & { return ids[static_cast<size_t>(v - nin)]; };
   auto constant = [&](int64_t v, float c) {
      const size_t j = static_cast<size_t>(-v - 1);
      return v < 0 && p.constantTypes[j] == 1 && std::abs(p.constants[j] - c) <= 1e-6f * std::abs(c);
   };
   // The other operand of binary op v, if one is the constant c.
   auto besides = [&](int64_t v, float c) -> std::optional<int64_t> {
      const auto &a = operands(v);
      if (constant(a[0], c))
         return a[1];
      if (constant(a[1], c))
         return a[0];
      return std::nullopt;
   };
   // The other operand of binary op v, if one is x.
   auto with = [&](int64_t v, int64_t x) -> std::optional<int64_t> {
      const auto &a = operands(v);
      if (a[0] == x)
         return a[1];
      if (a[1] == x)
         return a[0];
      return std::nullopt;
   };
   const auto half = is(id, "Mul") ? besides(id, 0.5f) : std::nullopt;
   if (!half || !is(*half, "Mul"))
      return std::nullopt;
   for (const int64_t x : operands(*half)) {
      const auto sum = with(*half, x);
      const auto t = sum && is(*sum, "Add") ? besides(*sum, 1.0f) : std::nullopt;
      const auto u = t && is(*t, "Tanh") ? std::optional<int64_t>(operands(*t)[0]) : std::nullopt;
      const auto inner = u && is(*u, "Mul") ? besides(*u, 0.7978845608f) : std::nullopt;
      const auto cubic = inner && is(*inner, "Add") ? with(*inner, x) : std::nullopt;
      const auto cube = cubic && is(*cubic, "Mul") ? besides(*cubic, 0.044715f) : std::nullopt;
      const auto square = cube && is(*cube, "Mul") ? with(*cube, x) : std::nullopt;
      if (square && is(*square, "Mul") && operands(*square)[0] == x && operands(*square)[1] == x)
         return x;
   }
   return std::nullopt;
}

} // namespace

std::vector<ETensorType> ElementwiseValueTypes(const ElementwiseProgram &p, std::vector<ETensorType> types)
{
   size_t arg = 0, param = 0;
   auto operand = [&](int64_t id) {
      if (id < 0) {
         const size_t j = static_cast<size_t>(-id - 1);
         if (j >= p.constants.size())
            throw std::runtime_error("SofiePyTorch Elementwise operator: constant operand out of range");
         return FromOnnx(p.constantTypes.at(j));
      }
      if (static_cast<size_t>(id) >= types.size())
         throw std::runtime_error("SofiePyTorch Elementwise operator: operand used before it is computed");
      return types[static_cast<size_t>(id)];
   };
   for (const auto &name : p.ops) {
      const OpInfo &op = Lookup(name);
      if (arg + op.arity > p.args.size() || param + op.params > p.params.size())
         throw std::runtime_error("SofiePyTorch Elementwise operator: too few operands or parameters for " + name);
      std::vector<ETensorType> in;
      for (int i = 0; i < op.arity; ++i)
         in.push_back(operand(p.args[arg + i]));
      switch (op.result) {
      case Result::kFirst: types.push_back(in[0]); break;
      case Result::kSecond: types.push_back(in[1]); break;
      case Result::kBool: types.push_back(ETensorType::BOOL); break;
      case Result::kParam: types.push_back(FromOnnx(static_cast<int64_t>(p.params[param]))); break;
      }
      arg += op.arity;
      param += op.params;
   }
   if (arg != p.args.size() || param != p.params.size())
      throw std::runtime_error("SofiePyTorch Elementwise operator: operands or parameters left over");
   for (auto id : p.outputValues)
      if (id < 0 || static_cast<size_t>(id) >= types.size())
         throw std::runtime_error("SofiePyTorch Elementwise operator: output value out of range");
   return types;
}

std::string ElementwiseBody(const ElementwiseProgram &p, const std::vector<ETensorType> &types, const std::string &indent)
{
   // An operand: an earlier value, or a constant written into the code.
   auto operand = [&](int64_t id) -> std::string {
      if (id >= 0)
         return "sp_v" + std::to_string(id);
      const size_t j = static_cast<size_t>(-id - 1);
      const ETensorType type = FromOnnx(p.constantTypes[j]);
      if (type == ETensorType::BOOL)
         return p.constants[j] != 0 ? "true" : "false";
      if (type == ETensorType::INT64)
         return "std::int64_t(" + std::to_string(static_cast<long long>(p.constants[j])) + ")";
      return FloatLiteral(p.constants[j]);
   };
   std::ostringstream out;
   const size_t nin = p.inputs.size();
   // Per op, its operands as written (for the fused pairs below).
   std::vector<Args> written;
   const auto ids = OperandIds(p);
   auto producedBy = [&](int64_t id, const char *name) {
      return id >= static_cast<int64_t>(nin) && p.ops[static_cast<size_t>(id) - nin] == name;
   };
   size_t arg = 0, param = 0;
   for (size_t i = 0; i < p.ops.size(); ++i) {
      const OpInfo &op = Lookup(p.ops[i]);
      Args a;
      for (int j = 0; j < op.arity; ++j)
         a.push_back(operand(p.args[arg + j]));
      written.push_back(a);
      const Params params(p.params.begin() + param, p.params.begin() + param + op.params);
      const ETensorType type = types[nin + i];
      std::string expr;
      if (const auto x = GeluTanhInput(p, ids, static_cast<int64_t>(nin + i)))
         expr = "sp_gelu_tanh(" + operand(*x) + ")";
      else if (p.ops[i] == "Log" && producedBy(p.args[arg], "Sigmoid"))
         // Torch's logsigmoid (Log of Sigmoid in ONNX): log of the rounded sigmoid would be
         // clamped where the sigmoid underflows (x < -88); written as one function it is exact.
         expr = "sp_logsigmoid(" + written[static_cast<size_t>(p.args[arg]) - nin][0] + ")";
      else if (op.emit)
         expr = op.emit(a, params);
      else if (type == ETensorType::BOOL) // Cast
         expr = "(" + a[0] + " != 0)";
      else
         expr = "static_cast<" + LocalType(type) + ">(" + a[0] + ")";
      out << indent << "const " << LocalType(type) << " sp_v" << nin + i << " = " << expr << ";\n";
      arg += op.arity;
      param += op.params;
   }
   return out.str();
}

ElementwiseProgram ReadElementwiseProgram(const onnx::NodeProto &node)
{
   ElementwiseProgram p;
   p.ops = Strings(node, "ops");
   p.args = Ints(node, "args");
   p.params = Floats(node, "params");
   p.constants = Floats(node, "constants");
   p.constantTypes = Ints(node, "constant_types");
   p.outputValues = Ints(node, "output_values");
   if (p.constants.size() != p.constantTypes.size() || p.ops.empty())
      throw std::runtime_error("node " + node.name() + " (" + node.op_type() + ") has a malformed element-wise program");
   return p;
}

namespace {

class Elementwise final : public ROperator {
public:
   explicit Elementwise(ElementwiseProgram program) : fP(std::move(program))
   {
      for (auto &name : fP.inputs)
         name = UTILITY::Clean_name(name);
      for (auto &name : fP.outputs)
         name = UTILITY::Clean_name(name);
      fInputTensorNames.assign(fP.inputs.begin(), fP.inputs.end());
      fOutputTensorNames.assign(fP.outputs.begin(), fP.outputs.end());
   }

   std::vector<std::string> GetStdLibs() override { return {"algorithm", "cmath", "cstdint", "cstring", "limits"}; }

   void Initialize(RModel &model) override
   {
      const std::string what = "SofiePyTorch Elementwise operator: ";
      std::vector<ETensorType> types;
      std::vector<std::vector<Dim>> shapes;
      for (const auto &name : fP.inputs) {
         if (!model.CheckIfTensorAlreadyExist(name))
            throw std::runtime_error(what + "tensor " + name + " is not in the model");
         types.push_back(model.GetTensorType(name));
         shapes.push_back(model.GetDimTensorShape(name));
      }
      fTypes = ElementwiseValueTypes(fP, types);
      // The loop shape: all inputs broadcast together (numpy rules, sizes aligned right).
      size_t rank = 0;
      for (const auto &s : shapes)
         rank = std::max(rank, s.size());
      fLoop.assign(rank, Dim{size_t(1)});
      for (const auto &s : shapes)
         for (size_t i = 0; i < s.size(); ++i) {
            Dim &d = fLoop[rank - s.size() + i];
            const Dim &e = s[i];
            if (!e.isParam && e.dim == 1)
               continue;
            if (!d.isParam && d.dim == 1)
               d = e;
            else if (d.GetVal() != e.GetVal())
               throw std::runtime_error(what + "input shapes " + ConvertDimShapeToString(s) + " and " +
                                        ConvertDimShapeToString(fLoop) + " do not broadcast");
         }
      // Per input and loop dimension, the stride (0 where the input is broadcast).
      fStrides.clear();
      for (const auto &s : shapes) {
         std::vector<std::string> strides(rank, "0");
         std::string stride = "1";
         for (size_t i = s.size(); i-- > 0;) {
            const bool broadcast = !s[i].isParam && s[i].dim == 1 && fLoop[rank - s.size() + i].GetVal() != "1";
            strides[rank - s.size() + i] = broadcast ? "0" : stride;
            stride = Times(stride, s[i].GetVal());
         }
         fStrides.push_back(strides);
      }
      for (size_t i = 0; i < fP.outputs.size(); ++i) {
         const ETensorType type = fTypes[static_cast<size_t>(fP.outputValues[i])];
         if (!model.CheckIfTensorAlreadyExist(fP.outputs[i]))
            model.AddIntermediateTensor(fP.outputs[i], type, fLoop);
      }
      Collapse();
   }

   std::string Generate(std::string /*opName*/) override
   {
      const std::string in = "      ";
      std::ostringstream out;
      out << "   // SofiePyTorch Elementwise:";
      for (const auto &op : fP.ops)
         out << " " << op;
      out << " over " << ConvertDimShapeToString(fLoop) << "\n   {\n"
          << ActivationLambdas(in) << ElementwiseLambdas(in);
      // Nested loops over the (collapsed) loop shape; the last one is the contiguous one.
      std::string indent = in;
      for (size_t d = 0; d < fLoop.size(); ++d) {
         out << indent << "for (size_t sp_i" << d << " = 0; sp_i" << d << " < " << fLoop[d].GetVal() << "; ++sp_i" << d
             << ") {\n";
         indent += "   ";
      }
      const size_t nin = fP.inputs.size();
      for (size_t k = 0; k < nin; ++k) {
         const std::string load = "tensor_" + fP.inputs[k] + "[" + Index(fStrides[k]) + "]";
         out << indent << "const " << LocalType(fTypes[k]) << " sp_v" << k << " = "
             << (fTypes[k] == ETensorType::BOOL ? "(" + load + " != 0)" : load) << ";\n";
      }
      out << ElementwiseBody(fP, fTypes, indent);
      std::vector<std::string> contiguous(fLoop.size());
      std::string stride = "1";
      for (size_t d = fLoop.size(); d-- > 0;) {
         contiguous[d] = stride;
         stride = Times(stride, fLoop[d].GetVal());
      }
      for (size_t i = 0; i < fP.outputs.size(); ++i) {
         const size_t id = static_cast<size_t>(fP.outputValues[i]);
         out << indent << "tensor_" << fP.outputs[i] << "[" << Index(contiguous) << "] = "
             << (fTypes[id] == ETensorType::BOOL ? "static_cast<std::uint8_t>(sp_v" + std::to_string(id) + ")"
                                                 : "sp_v" + std::to_string(id))
             << ";\n";
      }
      for (size_t d = fLoop.size(); d-- > 0;) {
         indent.resize(indent.size() - 3);
         out << indent << "}\n";
      }
      out << "   }\n";
      return out.str();
   }

private:
   std::string Index(const std::vector<std::string> &strides) const
   {
      std::string index;
      for (size_t d = 0; d < strides.size(); ++d) {
         if (strides[d] == "0")
            continue;
         const std::string term = strides[d] == "1" ? "sp_i" + std::to_string(d) : "sp_i" + std::to_string(d) + " * " + strides[d];
         index += (index.empty() ? "" : " + ") + term;
      }
      return index.empty() ? "0" : index;
   }

   // Merge neighbouring loop dimensions wherever every input walks them as one (both
   // broadcast, or contiguous across both): fewer, longer loops for the vectoriser.
   void Collapse()
   {
      for (size_t d = fLoop.size(); d-- > 1;) {
         const Dim &outer = fLoop[d - 1], &inner = fLoop[d];
         if (outer.isParam || inner.isParam)
            continue;
         bool mergeable = true;
         for (const auto &s : fStrides)
            mergeable &= (s[d - 1] == "0" && s[d] == "0") ||
                          (s[d] != "0" && s[d - 1] == Times(s[d], std::to_string(inner.dim)));
         if (!mergeable)
            continue;
         fLoop[d - 1] = Dim{outer.dim * inner.dim};
         fLoop.erase(fLoop.begin() + d);
         for (auto &s : fStrides)
            s.erase(s.begin() + (d - 1)); // the inner stride stays
      }
      if (fLoop.empty())
         fLoop.push_back(Dim{size_t(1)});
      for (auto &s : fStrides)
         if (s.empty())
            s.push_back("0");
   }

   ElementwiseProgram fP;
   std::vector<ETensorType> fTypes;
   std::vector<Dim> fLoop;
   std::vector<std::vector<std::string>> fStrides;
};

} // namespace

std::unique_ptr<ROperator> ParseElementwise(RModelParser_ONNX &parser, const onnx::NodeProto &node)
{
   ElementwiseProgram p = ReadElementwiseProgram(node);
   for (int i = 0; i < node.input_size(); ++i)
      p.inputs.push_back(node.input(i));
   for (int i = 0; i < node.output_size(); ++i)
      p.outputs.push_back(node.output(i));
   if (p.outputValues.size() != p.outputs.size())
      throw std::runtime_error("node " + node.name() + " (" + node.op_type() + ") is malformed");
   std::vector<ETensorType> types;
   for (const auto &name : p.inputs) {
      if (!parser.IsRegisteredTensorType(name))
         throw std::runtime_error("node " + node.name() + " (" + node.op_type() + ") reads " + name +
                                  ", whose type is unknown");
      types.push_back(parser.GetTensorType(name));
   }
   const auto values = ElementwiseValueTypes(p, types);
   for (size_t i = 0; i < p.outputs.size(); ++i)
      if (!parser.IsRegisteredTensorType(p.outputs[i]))
         parser.RegisterTensorType(p.outputs[i], values[static_cast<size_t>(p.outputValues[i])]);
   return std::make_unique<Elementwise>(std::move(p));
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
