// An owning Python reference: every PyObject* this library holds lives in one of these,
// so no path (return, exception) can leak or double-release a reference.
#ifndef SOFIE_PYTORCH_PYREF_HXX
#define SOFIE_PYTORCH_PYREF_HXX

#include <Python.h>

#include <utility>

namespace SOFIE {
namespace PyTorch {
namespace detail {

class PyRef {
public:
   PyRef() = default;
   /// Take over a new reference (what most C-API calls return); nullptr is allowed.
   static PyRef Steal(PyObject *obj) { return PyRef(obj); }
   /// Share a borrowed reference: take one of our own.
   static PyRef Borrow(PyObject *obj)
   {
      Py_XINCREF(obj);
      return PyRef(obj);
   }

   PyRef(const PyRef &) = delete;
   PyRef &operator=(const PyRef &) = delete;
   PyRef(PyRef &&other) noexcept : fObj(std::exchange(other.fObj, nullptr)) {}
   PyRef &operator=(PyRef &&other) noexcept
   {
      if (this != &other) {
         Py_XDECREF(fObj);
         fObj = std::exchange(other.fObj, nullptr);
      }
      return *this;
   }
   ~PyRef() { Py_XDECREF(fObj); }

   PyObject *get() const noexcept { return fObj; }
   /// Give the reference away (to a C-API call that steals it).
   PyObject *release() noexcept { return std::exchange(fObj, nullptr); }
   explicit operator bool() const noexcept { return fObj != nullptr; }

private:
   explicit PyRef(PyObject *obj) : fObj(obj) {}
   PyObject *fObj = nullptr;
};

} // namespace detail
} // namespace PyTorch
} // namespace SOFIE

#endif
