// The embedded Python interpreter: started once when the process has none (root.exe,
// a compiled program), shared with the host when it has one (PyROOT).
#ifndef SOFIE_PYTORCH_EMBEDDEDPYTHON_HXX
#define SOFIE_PYTORCH_EMBEDDEDPYTHON_HXX

#include "PyRef.hxx"

#include <string>

namespace SOFIE {
namespace PyTorch {
namespace detail {

/// Start the interpreter if the process has none. Thread-safe; never finalizes it,
/// because torch cannot be unloaded and re-imported in one process.
void EnsureInterpreter();

/// Holds the GIL for its lifetime, from any thread, whoever started the interpreter.
class GilGuard {
public:
   GilGuard();
   ~GilGuard();
   GilGuard(const GilGuard &) = delete;
   GilGuard &operator=(const GilGuard &) = delete;

private:
   PyGILState_STATE fState;
};

/// Turn the pending Python exception into a ParseError and throw it. `context` says
/// what was being done. Clears the Python error state.
[[noreturn]] void ThrowPythonError(const std::string &context);

/// Throw if `ref` is null (a failed C-API call), else return it.
PyRef Check(PyRef ref, const std::string &context);

/// Import the tracing module of the sofie_pytorch package.
PyRef ImportTracingModule();

} // namespace detail
} // namespace PyTorch
} // namespace SOFIE

#endif
