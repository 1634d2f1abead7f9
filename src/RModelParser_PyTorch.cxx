// PyTorch -> SOFIE RModel: the Python package traces the model into an ONNX graph
// (checked, rewritten for SOFIE), and SOFIE's own ONNX parser builds the RModel from it.
#include "TMVA/RModelParser_PyTorch.h"

#include "EmbeddedPython.hxx"
#include "operators/Operators.hxx"

#include "SOFIE/RModelParser_ONNX.hxx"
#include "RootNames.hxx"

#include <cctype>
#include <cxxabi.h>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>
#include <typeinfo>
#include <utility>

namespace SOFIE {
namespace PyTorch {

ParseError::ParseError(const std::string &kind, const std::string &message)
   : std::runtime_error(message), fKind(kind)
{
}

std::vector<std::string> SupportedOnnxOperators()
{
   RModelParser_ONNX parser;
   operators::Register(parser);
   return parser.GetRegisteredOperators();
}

namespace {

using detail::Check;
using detail::PyRef;

struct TracedGraph {
   std::string onnx; // serialized ONNX ModelProto
   std::string name; // model name, a C++ identifier
};

PyRef StringList(const std::vector<std::string> &values)
{
   PyRef list = Check(PyRef::Steal(PyList_New(0)), "building a list");
   for (const auto &value : values) {
      PyRef item = Check(PyRef::Steal(PyUnicode_FromStringAndSize(value.data(), value.size())), "building a list");
      if (PyList_Append(list.get(), item.get()) != 0)
         detail::ThrowPythonError("building a list");
   }
   return list;
}

PyRef ShapeList(const std::vector<std::vector<size_t>> &shapes)
{
   PyRef list = Check(PyRef::Steal(PyList_New(0)), "building the shape list");
   for (const auto &shape : shapes) {
      PyRef dims = Check(PyRef::Steal(PyList_New(0)), "building the shape list");
      for (size_t dim : shape) {
         PyRef item = Check(PyRef::Steal(dim == kDynamic ? PyLong_FromLong(-1) : PyLong_FromSize_t(dim)),
                            "building the shape list");
         if (PyList_Append(dims.get(), item.get()) != 0)
            detail::ThrowPythonError("building the shape list");
      }
      if (PyList_Append(list.get(), dims.get()) != 0)
         detail::ThrowPythonError("building the shape list");
   }
   return list;
}

std::vector<std::string> DtypeNames(const std::vector<ETensorType> &types)
{
   std::vector<std::string> names;
   for (ETensorType type : types)
      // SOFIE spells BOOL "uint8_t" (its storage type); the tracing script wants "bool".
      names.push_back(type == ETensorType::BOOL ? std::string("bool") : ConvertTypeToString(type));
   return names;
}

/// Call the tracing script with Python objects; the GIL must be held.
TracedGraph Trace(PyObject *model, PyObject *shapes, PyObject *dtypes)
{
   PyRef tracing = detail::ImportTracingModule();
   PyRef function = Check(PyRef::Steal(PyObject_GetAttrString(tracing.get(), "export_for_sofie")),
                          "finding sofie_pytorch.tracing.export_for_sofie");
   PyRef supported = StringList(SupportedOnnxOperators());
   PyRef result = PyRef::Steal(
      PyObject_CallFunctionObjArgs(function.get(), model, shapes, dtypes, supported.get(), nullptr));
   if (!result)
      detail::ThrowPythonError("tracing the PyTorch model");
   char *data = nullptr;
   Py_ssize_t size = 0;
   const char *name = nullptr;
   // Borrowed items of a tuple we own: valid while `result` lives.
   if (!PyTuple_Check(result.get()) || PyTuple_Size(result.get()) != 2 ||
       PyBytes_AsStringAndSize(PyTuple_GetItem(result.get(), 0), &data, &size) != 0 ||
       !(name = PyUnicode_AsUTF8(PyTuple_GetItem(result.get(), 1)))) {
      if (PyErr_Occurred())
         detail::ThrowPythonError("reading the traced graph");
      throw ParseError("PythonError", "the tracing script returned something other than (bytes, str)");
   }
   return {std::string(data, size), name};
}

/// The engine reports progress on std::cout only when verbose: kept in a string while it
/// works (restored however the scope ends), to say where it was when it failed.
class EngineTrace {
public:
   EngineTrace() : fPrevious(std::cout.rdbuf(fText.rdbuf())) {}
   ~EngineTrace() { std::cout.rdbuf(fPrevious); }
   EngineTrace(const EngineTrace &) = delete;
   EngineTrace &operator=(const EngineTrace &) = delete;

   /// The last line starting with `marker`, and up to `context` lines after it.
   std::string LastStep(const std::string &marker, size_t context) const
   {
      std::vector<std::string> lines;
      std::istringstream text(fText.str());
      for (std::string line; std::getline(text, line);)
         lines.push_back(line);
      for (size_t i = lines.size(); i-- > 0;) {
         if (lines[i].rfind(marker, 0) != 0)
            continue;
         std::string step = lines[i];
         for (size_t j = i + 1; j < lines.size() && j <= i + context; ++j)
            step += " | " + lines[j];
         return step;
      }
      return {};
   }

private:
   std::ostringstream fText;
   std::streambuf *fPrevious;
};

/// A C++ name as written ("SOFIE::ROperator_Reshape", "std::invalid_argument"), not mangled.
std::string Demangled(const char *name)
{
   int status = 0;
   std::unique_ptr<char, void (*)(void *)> readable(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
   return status == 0 && readable ? std::string(readable.get()) : std::string(name);
}

/// "Initializing operator 80  N5SOFIE17ROperator_ReshapeE": the type name made readable.
std::string ReadableStep(std::string step)
{
   const auto mangled = step.find(" N5SOFIE");
   if (mangled != std::string::npos) {
      const auto end = step.find(' ', mangled + 1);
      const std::string name =
         step.substr(mangled + 1, end == std::string::npos ? std::string::npos : end - mangled - 1);
      step.replace(mangled + 1, name.size(), Demangled(name.c_str()));
   }
   if (!step.empty())
      step[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(step[0])));
   return step;
}

RModel BuildModel(const TracedGraph &graph)
{
   try {
      std::istringstream stream(graph.onnx);
      RModelParser_ONNX parser;
      operators::Register(parser); // our operators, for the nodes the front end gave them
      RModel model = parser.Parse(stream, graph.name);
      detail::AddRootNamespaceAlias(model);
      return model;
   } catch (const std::exception &e) {
      std::string message = "SOFIE could not build model '" + graph.name + "' from the traced graph: " + e.what();
      // Which node: parsed again, verbosely (the parser names each node as it starts it).
      std::string node;
      {
         EngineTrace trace;
         std::istringstream again(graph.onnx);
         try {
            RModelParser_ONNX parser;
            operators::Register(parser);
            parser.Parse(again, graph.name, /*verbose=*/true);
         } catch (const std::exception &) {
            node = trace.LastStep("===> New node ", 0);
         }
      }
      // "===> New node Softmax  /blocks.0/Softmax_4 order 430": the node's name is the
      // path of the module it comes from.
      std::istringstream words(node);
      std::string arrow, newWord, nodeWord, opType, nodeName, orderWord, order;
      if (words >> arrow >> newWord >> nodeWord >> opType >> nodeName >> orderWord >> order)
         message += " (the engine had last started node " + order + " of the graph, " + nodeName + ", a " +
                    opType + ")";
      // The engine names element types by their ONNX numbers; 11 is double.
      if (message.find("input type 11") != std::string::npos)
         message += " (11 is double: the SOFIE engine generates float code; convert the model with "
                    "model.float() and give float inputs)";
      throw ParseError("SofieError", message);
   }
}

} // namespace

void Generate(RModel &model, Options options, int batchSize)
{
   EngineTrace trace;
   try {
      model.Generate(options, batchSize, /*verbose=*/true);
   } catch (const std::exception &e) {
      std::string message = "SOFIE could not generate code for model '" + model.GetName() + "': " +
                            Demangled(typeid(e).name()) + ": " + e.what();
      std::string step = trace.LastStep("Generating code for operator", 0);
      if (step.empty())
         step = trace.LastStep("Initializing operator", 3);
      if (!step.empty())
         message += " (while " + ReadableStep(step) + ")";
      throw ParseError("GenerationError", message);
   }
}

RModel Parse(const std::string &filename, const std::vector<std::vector<size_t>> &inputShapes,
             const std::vector<ETensorType> &inputTypes)
{
   detail::EnsureInterpreter();
   TracedGraph graph;
   {
      detail::GilGuard gil;
      // The file name goes to Python as a str object, decoded like os.fsdecode does.
      PyRef path = Check(PyRef::Steal(PyUnicode_DecodeFSDefaultAndSize(filename.data(), filename.size())),
                         "decoding the file name");
      PyRef shapes = ShapeList(inputShapes);
      PyRef dtypes = StringList(DtypeNames(inputTypes));
      graph = Trace(path.get(), shapes.get(), dtypes.get());
   }
   return BuildModel(graph);
}

RModel Parse(const std::string &filename, const std::vector<std::vector<size_t>> &inputShapes)
{
   return Parse(filename, inputShapes, {});
}

RModel ParsePython(PyObject *model, PyObject *shapes, PyObject *dtypes)
{
   detail::EnsureInterpreter();
   TracedGraph graph;
   {
      detail::GilGuard gil;
      graph = Trace(model ? model : Py_None, shapes ? shapes : Py_None, dtypes ? dtypes : Py_None);
   }
   return BuildModel(graph);
}

} // namespace PyTorch
} // namespace SOFIE
