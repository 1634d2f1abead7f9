"""The C++ glue that scores RDataFrame entries with a generated model, as source text.

A *scorer* is one model with one set of input columns. It has two halves:

- ``<tag>.cxx``, compiled by g++ into a shared library together with the generated
  model code: it owns the Sessions (``SOFIE::PyTorch::SlotSessions``, one per RDataFrame
  slot, for a local RDataFrame; ``SOFIE::PyTorch::ThreadSessions``, one per thread of a
  process, for distributed RDataFrame, whose partitions all run as slot 0) and runs
  ``infer()``;
- ``<tag>.h``, read by cling (C++17): a few inline templates that take the columns as
  RDataFrame gives them (any arithmetic type, ``RVec`` or ``std::vector``), check array
  lengths, cast and pack them into the model's input buffers and call the library.

Nothing the user typed reaches this source as code: the tag is generated, the model's
namespace is a C++ identifier made by the engine, and column names (used only in error
messages) are written as octal escapes inside string literals, i.e. as data.
"""

from __future__ import annotations

from dataclasses import dataclass

# Inputs buffers up to this many elements live on the stack; bigger ones in a buffer per
# thread (allocated once).
STACK_ELEMENTS = 4096


@dataclass(frozen=True)
class InputLayout:
    """How one model input is filled from columns, for one event.

    ``kinds`` is "scalar" or "array" per column. Scalar columns fill the input in order;
    one array column fills it whole (row-major); k array columns are k features
    interleaved along the last axis (column j gives element j of every row).
    """

    tensor: str
    ctype: str  # float, int64_t
    size: int  # elements per event
    columns: tuple[str, ...]
    kinds: tuple[str, ...]

    @property
    def is_array(self) -> bool:
        return "array" in self.kinds

    @property
    def column_length(self) -> int:
        """Elements each array column must have per event."""
        return self.size // len(self.columns) if self.is_array else 1


@dataclass(frozen=True)
class OutputLayout:
    tensor: str
    ctype: str
    size: int  # elements per event


@dataclass(frozen=True)
class ScorerSpec:
    tag: str  # C++ identifier, unique per scorer
    model_namespace: str  # SOFIE_<name>
    model_header: str  # bare file name, next to the .cxx
    weights: str | None  # bare file name of the weight file, next to the library
    size_params: tuple[str, ...]  # run-time sizes of the Session (all 1: one event per call)
    infer_params: tuple[tuple[str, ...], ...]  # per input, the new run-time sizes before it
    inputs: tuple[InputLayout, ...]
    outputs: tuple[OutputLayout, ...]
    same_output_types: bool

    @property
    def namespace(self) -> str:
        return f"sofie_score_{self.tag}"

    @property
    def output_size(self) -> int:
        return sum(o.size for o in self.outputs)

    @property
    def columns(self) -> list[str]:
        return [c for i in self.inputs for c in i.columns]

    @property
    def return_type(self) -> str:
        return "float" if self.output_size == 1 else "ROOT::RVecF"


def c_string(text: str) -> str:
    """text as a C++ string literal made only of octal escapes: data, never code."""
    return '"' + "".join(f"\\{b:03o}" for b in text.encode("utf-8", "surrogateescape")) + '"'


def _pointer_params(spec: ScorerSpec) -> str:
    return ", ".join(f"const {i.ctype} *in{k}" for k, i in enumerate(spec.inputs))


def _run_function(spec: ScorerSpec, infer_args: list[str], copies: list[str]) -> str:
    """Run(): one event through the Session, its outputs into ``out``.

    When every output is float and of fixed size, the generated free function doInfer()
    writes them straight into ``out``: Session::infer() would allocate a std::vector per
    event (tens of ns, as much as a small model's whole inference). Otherwise infer() and
    a checked copy. A template, so that the branch not taken is never instantiated.
    """
    offsets = []
    offset = 0
    for out in spec.outputs:
        offsets.append(f"out + {offset}")
        offset += out.size
    slow = (f"   const auto y = session.infer({', '.join(infer_args)});\n"
            f"{chr(10).join(copies)}\n")
    if not all(o.ctype == "float" for o in spec.outputs):
        body = slow
    else:
        body = (f"   if constexpr (!{spec.model_namespace}::hasDynamicOutputTensors) {{\n"
                f"      doInfer(session, {', '.join(infer_args + offsets)});\n"
                "   } else {\n" + slow.replace("\n   ", "\n      ").replace("   ", "      ", 1)
                + "   }\n")
    return (f"template <typename S>\n"
            f"void Run(S &session, {_pointer_params(spec)}, float *out)\n"
            "{\n" + body + "}")


def compiled_source(spec: ScorerSpec) -> str:
    """The .cxx compiled into the shared library."""
    ns = spec.namespace
    ctor_sizes = "".join(", std::size_t{1}" for _ in spec.size_params)
    weights = c_string(spec.weights) if spec.weights else '""'
    infer_args = []
    for k, params in enumerate(spec.infer_params):
        infer_args += ["1"] * len(params) + [f"in{k}"]
    if len(spec.outputs) == 1:
        outputs = ["y"]
    elif spec.same_output_types:
        outputs = [f"y[{k}]" for k in range(len(spec.outputs))]
    else:
        outputs = [f"std::get<{k}>(y)" for k in range(len(spec.outputs))]
    copies = []
    offset = 0
    for expr, out in zip(outputs, spec.outputs):
        copies.append(
            f"   CopyOut({expr}, out + {offset}, {out.size}, {c_string(out.tensor)});"
        )
        offset += out.size
    names = ",\n   ".join(c_string(c) for c in spec.columns)
    return f"""\
// Generated by sofie_pytorch.rdf: the compiled half of scorer {spec.tag}.
#include "{spec.model_header}"
#include "SofiePyTorch/SlotSessions.hxx"

#include <dlfcn.h>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

extern "C" void openblas_set_num_threads(int);

#define SOFIE_SCORE_API __attribute__((visibility("default")))

namespace {{
using Session = {spec.model_namespace}::Session;

const char *const kColumns[] = {{
   {names}}};

// The weight file lives next to this library: on a Dask worker both are shipped into
// the worker's directory, wherever that is.
std::string WeightsPath()
{{
   const std::string name = {weights};
   if (name.empty())
      return name;
   Dl_info info{{}};
   if (!dladdr(reinterpret_cast<void *>(&WeightsPath), &info) || !info.dli_fname)
      return name;
   const std::string library = info.dli_fname;
   const auto slash = library.rfind('/');
   return slash == std::string::npos ? name : library.substr(0, slash + 1) + name;
}}

std::unique_ptr<Session> MakeSession()
{{
   // RDataFrame already runs one event loop per core: BLAS threads would only compete.
   // (Set here, not in a static initialiser: OpenBLAS must have initialised itself first.)
   openblas_set_num_threads(1);
   const std::string weights = WeightsPath();
   try {{
      return std::make_unique<Session>(weights{ctor_sizes});
   }} catch (const std::exception &e) {{
      throw std::runtime_error("sofie_pytorch.rdf: could not make the model's Session from the "
                               "weight file " + weights + ": " + e.what());
   }}
}}

std::unique_ptr<SOFIE::PyTorch::SlotSessions<Session>> gSlots;

template <typename Vector>
void CopyOut(const Vector &y, float *out, std::size_t n, const char *tensor)
{{
   if (y.size() != n)
      throw std::runtime_error(std::string("sofie_pytorch.rdf: output ") + tensor + " has " +
                               std::to_string(y.size()) + " elements per event, expected " +
                               std::to_string(n));
   for (std::size_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(y[i]);
}}

{_run_function(spec, infer_args, copies)}
}} // namespace

namespace {ns} {{
SOFIE_SCORE_API void Setup(unsigned nSlots)
{{
   // Only ever grows: an RDataFrame defined earlier with more slots may still run.
   if (gSlots && gSlots->size() >= nSlots)
      return;
   openblas_set_num_threads(1);
   const std::string weights = WeightsPath();
   try {{
      gSlots = std::make_unique<SOFIE::PyTorch::SlotSessions<Session>>(nSlots, weights{ctor_sizes});
   }} catch (const std::exception &e) {{
      throw std::runtime_error("sofie_pytorch.rdf: could not make the model's Sessions from the "
                               "weight file " + weights + ": " + e.what());
   }}
}}

// One per process, made on its first use: a Dask worker builds its Sessions once, however
// many partitions it runs (each is a single-threaded RDataFrame whose slot is always 0).
SOFIE::PyTorch::ThreadSessions<Session> &ProcessSessions()
{{
   static auto sessions = SOFIE::PyTorch::ThreadSessions<Session>::WithMaker(&MakeSession);
   return sessions;
}}

SOFIE_SCORE_API unsigned ThreadSessionsMade()
{{
   return static_cast<unsigned>(ProcessSessions().size());
}}

SOFIE_SCORE_API void Infer(unsigned slot, {_pointer_params(spec)}, float *out)
{{
   if (!gSlots)
      throw std::logic_error("sofie_pytorch.rdf: the scorer's Sessions were not set up");
   Run(gSlots->operator[](slot), {", ".join(f"in{k}" for k in range(len(spec.inputs)))}, out);
}}

SOFIE_SCORE_API void InferOnThisThread({_pointer_params(spec)}, float *out)
{{
   Run(ProcessSessions().Local(),
       {", ".join(f"in{k}" for k in range(len(spec.inputs)))}, out);
}}

[[noreturn]] SOFIE_SCORE_API void WrongLength(unsigned column, std::size_t got, std::size_t want)
{{
   throw std::length_error(std::string("sofie_pytorch.rdf: column '") + kColumns[column] +
                           "' has " + std::to_string(got) + " elements in this event, the "
                           "model takes " + std::to_string(want) + " per event");
}}
}} // namespace {ns}
"""


def _pack(spec: ScorerSpec, slot_call: str) -> list[str]:
    """The body lines that fill in0, in1, ... from the arguments c0, c1, ..."""
    lines = []
    column = 0
    for k, layout in enumerate(spec.inputs):
        if layout.size <= STACK_ELEMENTS:
            lines.append(f"   {layout.ctype} in{k}[{layout.size}];")
        else:
            lines.append(f"   thread_local std::vector<{layout.ctype}> buffer{k}({layout.size});")
            lines.append(f"   {layout.ctype} *in{k} = buffer{k}.data();")
        stride = len(layout.columns) if layout.is_array else 1
        for j, kind in enumerate(layout.kinds):
            if kind == "scalar":
                lines.append(f"   in{k}[{j}] = Scalar<{layout.ctype}>(c{column});")
            else:
                lines.append(f"   Array(in{k} + {j}, c{column}, {column}u, "
                             f"{layout.column_length}u, {stride}u);")
            column += 1
    ins = ", ".join(f"in{k}" for k in range(len(spec.inputs)))
    if spec.output_size == 1:
        lines += ["   float out;", f"   {slot_call}{ins}, &out);", "   return out;"]
    else:
        lines += [f"   ROOT::RVecF out({spec.output_size});",
                  f"   {slot_call}{ins}, out.data());", "   return out;"]
    return lines


def cling_header(spec: ScorerSpec) -> str:
    """The header cling reads, on the client and on every Dask worker."""
    ns = spec.namespace
    n = len(spec.columns)
    template = "template <" + ", ".join(f"typename C{i}" for i in range(n)) + ">"
    args = ", ".join(f"const C{i} &c{i}" for i in range(n))
    guard = f"SOFIE_SCORE_{spec.tag.upper()}_H"
    return f"""\
// Generated by sofie_pytorch.rdf: the part of scorer {spec.tag} that cling reads (C++17).
#ifndef {guard}
#define {guard}

#include <ROOT/RVec.hxx>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace {ns} {{
// In the compiled library:
void Setup(unsigned nSlots);
unsigned ThreadSessionsMade();
void Infer(unsigned slot, {_pointer_params(spec)}, float *out);
void InferOnThisThread({_pointer_params(spec)}, float *out);
[[noreturn]] void WrongLength(unsigned column, std::size_t got, std::size_t want);

template <typename T, typename C>
inline T Scalar(const C &value)
{{
   static_assert(std::is_arithmetic<C>::value,
                 "sofie_pytorch.rdf: a scalar input column must be numeric");
   return static_cast<T>(value);
}}

// One array column: n values, every stride-th element of the input from dst on.
template <typename T, typename V>
inline void Array(T *dst, const V &values, unsigned column, std::size_t n, std::size_t stride)
{{
   static_assert(std::is_arithmetic<typename V::value_type>::value,
                 "sofie_pytorch.rdf: an array input column must hold numbers");
   if (values.size() != n)
      WrongLength(column, values.size(), n);
   for (std::size_t i = 0; i < n; ++i)
      dst[i * stride] = static_cast<T>(values[i]);
}}

// Every output of the model, concatenated, for one event (a float if there is one).
{template}
inline {spec.return_type} Score(unsigned slot, {args})
{{
{chr(10).join(_pack(spec, "Infer(slot, "))}
}}

{template}
inline {spec.return_type} ScoreOnThisThread({args})
{{
{chr(10).join(_pack(spec, "InferOnThisThread("))}
}}

// Output k of the concatenation: Slice(all, offset, size).
inline ROOT::RVecF Slice(const ROOT::RVecF &all, std::size_t offset, std::size_t size)
{{
   return ROOT::RVecF(all.begin() + offset, all.begin() + offset + size);
}}
}} // namespace {ns}

#endif
"""
