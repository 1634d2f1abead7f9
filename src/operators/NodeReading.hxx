// Reading our custom ONNX nodes: inputs and outputs by position, integer attributes.
#ifndef SOFIE_PYTORCH_OPERATORS_NODEREADING_HXX
#define SOFIE_PYTORCH_OPERATORS_NODEREADING_HXX

#include "SOFIE/RModelParser_ONNX.hxx"

#include "onnx.hxx" // the engine's ONNX reader (SOFIE/parsers/src)

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace SOFIE {
namespace PyTorch {
namespace operators {

/// The node's input `i`, or "" when absent.
inline std::string InputOrEmpty(const onnx::NodeProto &node, int i)
{
   return i < node.input_size() ? node.input(i) : std::string();
}

/// The node's outputs, padded with "" to `count`.
inline std::vector<std::string> Outputs(const onnx::NodeProto &node, int count)
{
   std::vector<std::string> names;
   for (int i = 0; i < count; ++i)
      names.push_back(i < node.output_size() ? node.output(i) : std::string());
   return names;
}

/// A required integer attribute.
inline int64_t IntAttribute(const onnx::NodeProto &node, const std::string &name)
{
   for (int i = 0; i < node.attribute_size(); ++i)
      if (node.attribute(i).name() == name)
         return node.attribute(i).i();
   throw std::runtime_error("node " + node.name() + " (" + node.op_type() + ") has no attribute " + name);
}

/// A required list-of-integers attribute.
inline std::vector<size_t> IntsAttribute(const onnx::NodeProto &node, const std::string &name)
{
   for (int i = 0; i < node.attribute_size(); ++i)
      if (node.attribute(i).name() == name)
         return {node.attribute(i).ints().begin(), node.attribute(i).ints().end()};
   throw std::runtime_error("node " + node.name() + " (" + node.op_type() + ") has no attribute " + name);
}

/// Check the input is float, and register the outputs as float.
inline void FloatOnly(RModelParser_ONNX &parser, const onnx::NodeProto &node)
{
   const std::string &x = node.input(0);
   if (!parser.IsRegisteredTensorType(x) || parser.GetTensorType(x) != ETensorType::FLOAT)
      throw std::runtime_error("node " + node.name() + " (" + node.op_type() + ") needs a float input");
   for (int i = 0; i < node.output_size(); ++i)
      if (!node.output(i).empty() && !parser.IsRegisteredTensorType(node.output(i)))
         parser.RegisterTensorType(node.output(i), ETensorType::FLOAT);
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE

#endif
