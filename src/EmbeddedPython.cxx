#include "EmbeddedPython.hxx"

#include "TMVA/RModelParser_PyTorch.h"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>
#include <sys/stat.h>

// Set by the build: the Python of the environment the plugin was built for, and the
// directory holding the sofie_pytorch package.
#ifndef SOFIE_PYTORCH_PYTHON_EXECUTABLE
#define SOFIE_PYTORCH_PYTHON_EXECUTABLE ""
#endif
#ifndef SOFIE_PYTORCH_PYTHON_DIR
#define SOFIE_PYTORCH_PYTHON_DIR ""
#endif

namespace SOFIE {
namespace PyTorch {
namespace detail {

namespace {

bool IsFile(const std::string &path)
{
   struct stat st {};
   return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// The python of the environment this library was pip-installed into, found from the
/// library's own path (<prefix>/lib/pythonX.Y/site-packages/sofie_pytorch/lib/), or ""
/// when the library is not inside an installed package (a build tree).
std::string InstalledEnvironmentPython()
{
   Dl_info info{};
   if (::dladdr(reinterpret_cast<void *>(&InstalledEnvironmentPython), &info) == 0 || !info.dli_fname)
      return {};
   std::string path = info.dli_fname;
   const std::string marker = "/sofie_pytorch/lib/";
   const auto at = path.rfind(marker);
   if (at == std::string::npos)
      return {};
   path.resize(at); // .../site-packages
   for (int up = 0; up < 3; ++up) { // site-packages -> pythonX.Y -> lib -> <prefix>
      const auto slash = path.rfind('/');
      if (slash == std::string::npos)
         return {};
      path.resize(slash);
   }
   const std::string python = path + "/bin/python3";
   return IsFile(python) ? python : std::string();
}

/// The Python whose environment (site-packages with torch) the interpreter must use.
/// Setting program_name to a virtual environment's python makes Python read its
/// pyvenv.cfg, which is what puts that environment's site-packages on sys.path.
std::string ChoosePythonExecutable()
{
   if (const char *chosen = std::getenv("SOFIE_PYTORCH_PYTHON"); chosen && *chosen)
      return chosen;
   if (std::string installed = InstalledEnvironmentPython(); !installed.empty())
      return installed;
   if (IsFile(SOFIE_PYTORCH_PYTHON_EXECUTABLE))
      return SOFIE_PYTORCH_PYTHON_EXECUTABLE;
   if (const char *venv = std::getenv("VIRTUAL_ENV"); venv && *venv) {
      const std::string python = std::string(venv) + "/bin/python3";
      if (IsFile(python))
         return python;
   }
   return "python3";
}

void StartInterpreter()
{
   const std::string executable = ChoosePythonExecutable();
   PyConfig config;
   PyConfig_InitPythonConfig(&config);
   config.install_signal_handlers = 0; // the host (root.exe, the user's program) owns signals
   config.parse_argv = 0;
   PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, executable.c_str());
   if (!PyStatus_Exception(status))
      status = Py_InitializeFromConfig(&config);
   PyConfig_Clear(&config);
   if (PyStatus_Exception(status)) {
      throw ParseError("PythonError", "could not start the embedded Python interpreter for " + executable +
                                         ": " + (status.err_msg ? status.err_msg : "unknown error") +
                                         " (set SOFIE_PYTORCH_PYTHON to the python of an environment with torch)");
   }
   // Tells the package it runs inside this library's own interpreter, where there is no
   // PyROOT to register with.
   PySys_SetObject("_sofie_pytorch_embedded", Py_True);
   // Release the GIL taken by initialisation: from here on every use, from any thread,
   // goes through GilGuard.
   PyEval_SaveThread();
}

std::string Str(PyObject *obj)
{
   if (!obj)
      return {};
   PyRef text = PyRef::Steal(PyObject_Str(obj));
   if (const char *utf8 = text ? PyUnicode_AsUTF8(text.get()) : nullptr)
      return utf8;
   PyErr_Clear();
   // Lone surrogates (a file name that is not UTF-8) cannot be UTF-8: escape them.
   PyRef escaped = text ? PyRef::Steal(PyUnicode_AsEncodedString(text.get(), "utf-8", "backslashreplace")) : PyRef();
   if (!escaped) {
      PyErr_Clear();
      return "<unprintable>";
   }
   return std::string(PyBytes_AS_STRING(escaped.get()), PyBytes_GET_SIZE(escaped.get()));
}

std::string Attribute(PyObject *obj, const char *name)
{
   PyRef value = PyRef::Steal(PyObject_GetAttrString(obj, name));
   if (!value) {
      PyErr_Clear();
      return {};
   }
   return Str(value.get());
}

/// The formatted traceback, for errors that are bugs rather than bad input.
std::string Traceback(PyObject *type, PyObject *value, PyObject *tb)
{
   PyRef module = PyRef::Steal(PyImport_ImportModule("traceback"));
   PyRef lines = module ? PyRef::Steal(PyObject_CallMethod(module.get(), "format_exception", "OOO", type,
                                                           value ? value : Py_None, tb ? tb : Py_None))
                        : PyRef();
   PyRef empty = PyRef::Steal(PyUnicode_FromString(""));
   PyRef joined = (lines && empty) ? PyRef::Steal(PyUnicode_Join(empty.get(), lines.get())) : PyRef();
   if (!joined) {
      PyErr_Clear();
      return {};
   }
   return Str(joined.get());
}

/// Load sofie_pytorch from the directory baked in at build time, without touching
/// sys.path: for processes whose Python environment does not have the package installed.
PyRef ImportFromBuildTree()
{
   const std::string dir = SOFIE_PYTORCH_PYTHON_DIR;
   if (dir.empty())
      return {};
   PyRef machinery = Check(PyRef::Steal(PyImport_ImportModule("importlib.util")), "importing importlib");
   PyRef finder = Check(PyRef::Steal(PyImport_ImportModule("importlib.machinery")), "importing importlib");
   PyRef pathFinder = Check(PyRef::Steal(PyObject_GetAttrString(finder.get(), "PathFinder")), "importlib");
   PyRef dirs = Check(PyRef::Steal(Py_BuildValue("[s]", dir.c_str())), "building the package path");
   PyRef spec = Check(PyRef::Steal(PyObject_CallMethod(pathFinder.get(), "find_spec", "sO", "sofie_pytorch", dirs.get())),
                      "finding sofie_pytorch in " + dir);
   if (spec.get() == Py_None)
      return {};
   PyRef module = Check(PyRef::Steal(PyObject_CallMethod(machinery.get(), "module_from_spec", "O", spec.get())),
                        "loading sofie_pytorch from " + dir);
   PyRef modules = PyRef::Borrow(PySys_GetObject("modules"));
   if (!modules || PyDict_SetItemString(modules.get(), "sofie_pytorch", module.get()) != 0)
      ThrowPythonError("registering sofie_pytorch");
   PyRef loader = Check(PyRef::Steal(PyObject_GetAttrString(spec.get(), "loader")), "loading sofie_pytorch");
   PyRef done = PyRef::Steal(PyObject_CallMethod(loader.get(), "exec_module", "O", module.get()));
   if (!done) {
      // Do not leave a half-initialised package behind for the next attempt.
      PyObject *type, *value, *tb;
      PyErr_Fetch(&type, &value, &tb);
      PyRef heldType = PyRef::Steal(type), heldValue = PyRef::Steal(value), heldTb = PyRef::Steal(tb);
      if (PyDict_DelItemString(modules.get(), "sofie_pytorch") != 0)
         PyErr_Clear();
      PyErr_Restore(heldType.release(), heldValue.release(), heldTb.release());
      ThrowPythonError("importing sofie_pytorch from " + dir);
   }
   return Check(PyRef::Steal(PyImport_ImportModule("sofie_pytorch.tracing")), "importing sofie_pytorch.tracing");
}

/// For an interpreter the host started itself (a program that calls Py_Initialize()
/// before Parse, as ROOT's EmitFromPyTorch test does): it has the base Python's paths
/// only, not the environment's packages (torch, ROOT, sofie_pytorch). Adds that
/// environment's site-packages (and so its .pth files) with site.addsitedir; returns
/// whether anything was added. Throws when the running Python is not the version the
/// plugin was built for: that environment's packages cannot be used from it.
bool AddEnvironmentSitePackages()
{
   const std::string python = ChoosePythonExecutable();
   const auto bin = python.rfind('/');
   const auto prefixEnd = bin == std::string::npos ? std::string::npos : python.rfind('/', bin - 1);
   if (prefixEnd == std::string::npos)
      return false; // no environment known ("python3" from PATH): nothing to add
   PyRef info = PyRef::Borrow(PySys_GetObject("version_info"));
   PyRef major = info ? PyRef::Steal(PyObject_GetAttrString(info.get(), "major")) : PyRef();
   PyRef minor = info ? PyRef::Steal(PyObject_GetAttrString(info.get(), "minor")) : PyRef();
   if (!major || !minor) {
      PyErr_Clear();
      return false;
   }
   const long runningMajor = PyLong_AsLong(major.get()), runningMinor = PyLong_AsLong(minor.get());
   const std::string built = std::to_string(PY_MAJOR_VERSION) + "." + std::to_string(PY_MINOR_VERSION);
   const std::string running = std::to_string(runningMajor) + "." + std::to_string(runningMinor);
   if (running != built)
      throw ParseError("PythonError",
                       "this process runs Python " + running + ", but the plugin was built for Python " + built +
                          " (environment of " + python +
                          "); its packages cannot be used from another Python version. Start the program "
                          "without initialising Python (the plugin then starts the right one), or rebuild the "
                          "plugin with Python " + running + " (make PYTHON_BASE=python" + running + ")");
   const std::string sitePackages = python.substr(0, prefixEnd) + "/lib/python" + built + "/site-packages";
   struct stat st {};
   if (::stat(sitePackages.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return false;
   PyRef dir = Check(PyRef::Steal(PyUnicode_DecodeFSDefault(sitePackages.c_str())), "decoding " + sitePackages);
   PyRef path = PyRef::Borrow(PySys_GetObject("path"));
   if (!path || PySequence_Contains(path.get(), dir.get()) != 0) {
      PyErr_Clear();
      return false; // there already: the missing module is missing from the environment too
   }
   PyRef site = Check(PyRef::Steal(PyImport_ImportModule("site")), "importing site");
   Check(PyRef::Steal(PyObject_CallMethod(site.get(), "addsitedir", "O", dir.get())), "adding " + sitePackages);
   return true;
}

} // namespace

void EnsureInterpreter()
{
   static std::mutex startMutex;
   std::lock_guard<std::mutex> lock(startMutex);
   if (!Py_IsInitialized())
      StartInterpreter();
}

GilGuard::GilGuard() : fState(PyGILState_Ensure()) {}
GilGuard::~GilGuard()
{
   PyGILState_Release(fState);
}

void ThrowPythonError(const std::string &context)
{
   PyObject *rawType = nullptr, *rawValue = nullptr, *rawTb = nullptr;
   PyErr_Fetch(&rawType, &rawValue, &rawTb);
   PyErr_NormalizeException(&rawType, &rawValue, &rawTb);
   PyRef type = PyRef::Steal(rawType), value = PyRef::Steal(rawValue), tb = PyRef::Steal(rawTb);
   if (!type)
      throw ParseError("PythonError", context + ": failed without a Python exception");

   const std::string name = Attribute(type.get(), "__name__");
   const std::string module = Attribute(type.get(), "__module__");
   const std::string message = Str(value.get());
   // The package's own errors are messages for the user; anything else is unexpected and
   // keeps its traceback so that it can be reported.
   if (module.rfind("sofie_pytorch", 0) == 0)
      throw ParseError(name, message);
   if (name == "ModuleNotFoundError" || name == "ImportError") {
      throw ParseError("PythonError", context + ": " + message + " (the embedded Python is " +
                                          ChoosePythonExecutable() +
                                          "; set SOFIE_PYTORCH_PYTHON to the python of an environment with "
                                          "torch, onnx and sofie_pytorch)");
   }
   throw ParseError("PythonError", context + ": " + name + ": " + message + "\n" +
                                       Traceback(type.get(), value.get(), tb.get()));
}

PyRef Check(PyRef ref, const std::string &context)
{
   if (!ref)
      ThrowPythonError(context);
   return ref;
}

PyRef ImportTracingModule()
{
   PyRef module = PyRef::Steal(PyImport_ImportModule("sofie_pytorch.tracing"));
   if (module)
      return module;
   // Only a missing package itself is worth the fallback; any other import error (a
   // missing torch, a bug) is reported as it is.
   if (!PyErr_ExceptionMatches(PyExc_ModuleNotFoundError))
      ThrowPythonError("importing sofie_pytorch.tracing");
   // An interpreter started by the host may lack the environment's packages: add them
   // and try again.
   {
      PyObject *type, *value, *tb;
      PyErr_Fetch(&type, &value, &tb);
      PyRef heldType = PyRef::Steal(type), heldValue = PyRef::Steal(value), heldTb = PyRef::Steal(tb);
      if (AddEnvironmentSitePackages()) {
         module = PyRef::Steal(PyImport_ImportModule("sofie_pytorch.tracing"));
         if (module)
            return module;
         if (!PyErr_ExceptionMatches(PyExc_ModuleNotFoundError))
            ThrowPythonError("importing sofie_pytorch.tracing");
      } else {
         PyErr_Restore(heldType.release(), heldValue.release(), heldTb.release());
      }
   }
   PyObject *type, *value, *tb;
   PyErr_Fetch(&type, &value, &tb);
   PyRef heldType = PyRef::Steal(type), heldValue = PyRef::Steal(value), heldTb = PyRef::Steal(tb);
   const std::string missing = heldValue ? Attribute(heldValue.get(), "name") : "";
   if (missing == "sofie_pytorch") {
      if (PyRef fromBuildTree = ImportFromBuildTree())
         return fromBuildTree;
   }
   PyErr_Restore(heldType.release(), heldValue.release(), heldTb.release());
   ThrowPythonError("importing sofie_pytorch.tracing");
}

} // namespace detail
} // namespace PyTorch
} // namespace SOFIE
