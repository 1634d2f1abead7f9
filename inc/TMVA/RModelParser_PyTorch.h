// PyTorch parser for SOFIE: a PyTorch model in, a genuine SOFIE RModel out.
//
//   auto model = TMVA::Experimental::SOFIE::PyTorch::Parse("model.pt", {{2, 6}});
//   model.Generate();
//   model.OutputGenerated("model.hxx");
//
// The model is traced by the Python package sofie_pytorch in an embedded Python
// interpreter (started here when the process has none). This header is C++17, so
// ROOT's interpreter can read it.
#ifndef TMVA_SOFIE_RMODELPARSER_PYTORCH_H
#define TMVA_SOFIE_RMODELPARSER_PYTORCH_H

#include "SofiePyTorch/Engine.h"

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef Py_OBJECT_H
// Python's object type, declared so that this header does not need Python.h.
struct _object;
typedef _object PyObject;
#endif

namespace SOFIE {
namespace PyTorch {

/// A conversion that failed. kind() names the cause, as the Python package's exception
/// classes do: "ModelLoadError", "InputSpecError", "TracingError",
/// "UnsupportedOperatorError", "PythonError" (the embedded Python could not start or
/// import what it needs), "SofieError" (the engine rejected the traced graph).
class ParseError : public std::runtime_error {
public:
   ParseError(const std::string &kind, const std::string &message);
   const std::string &kind() const noexcept { return fKind; }

private:
   std::string fKind;
};

/// A dimension chosen at run time (the batch size, usually): {{kDynamic, 10}}. The
/// generated infer() then takes the size as an argument.
constexpr size_t kDynamic = static_cast<size_t>(-1);

/// Parse a PyTorch model file (TorchScript .pt, or torch.export .pt2) into an RModel.
/// inputShapes holds one shape per model input (kDynamic for a size chosen at run
/// time); inputTypes one element type per input
/// (FLOAT, DOUBLE, INT64, INT32 or BOOL), or none for all FLOAT.
RModel Parse(const std::string &filename, const std::vector<std::vector<size_t>> &inputShapes,
             const std::vector<ETensorType> &inputTypes);
RModel Parse(const std::string &filename, const std::vector<std::vector<size_t>> &inputShapes);

/// The same from Python objects, for the PyROOT entry point: model is a path (str or
/// os.PathLike) or a model object (nn.Module, ScriptModule, ExportedProgram); shapes a
/// sequence of sequences of ints; dtypes None or a sequence of dtype names.
RModel ParsePython(PyObject *model, PyObject *shapes, PyObject *dtypes);

/// The ONNX operator types SOFIE's engine can generate code for.
std::vector<std::string> SupportedOnnxOperators();

/// model.Generate(options, batchSize), with the engine's progress kept aside: when the
/// engine fails, the ParseError (kind "GenerationError") carries its exception's type and
/// whole message, the operator it was working on and the engine's last lines about it.
void Generate(RModel &model, Options options = Options::kDefault, int batchSize = -1);

} // namespace PyTorch
} // namespace SOFIE

#endif
