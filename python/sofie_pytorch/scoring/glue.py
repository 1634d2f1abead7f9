"""The C++ glue that scores events with a generated model, as source text.

A *scorer* is one model with one set of input columns. It has two halves:

- ``<tag>.cxx``, compiled by g++ into a shared library together with the generated
  model code. It packs the columns of events into the model's input buffers (scalars,
  fixed-length arrays, and jagged particle lists padded, masked, sorted and truncated to
  the model's particle axis) and runs the model: one event per call for RDataFrame
  (``Score``: a Session per slot, ``SOFIE::PyTorch::SlotSessions``; ``ScoreOnThisThread``:
  one per thread of a Dask worker process, ``SOFIE::PyTorch::ThreadSessions``), or
  whole batches of events for the columnar path (``sofie_score_columns_<tag>``, a C
  function called through ctypes, a Session per calling thread). The packing code is the
  same for both, written once here. Where the model's particle axis is chosen at run
  time, each event runs at its own number of particles: on the columnar path the events
  of equal count are batched together and their outputs put back in entry order.
- ``<tag>.h``, read by cling (C++17): inline templates that take the columns as
  RDataFrame gives them (any arithmetic type, ``RVec`` or ``std::vector``), cast them to
  the model's input type, and hand them to the library as column views of one event.

Nothing the user typed reaches this source as code: the tag is generated, the model's
namespace is a C++ identifier made by the engine, and column names (used only in error
messages) are written as octal escapes inside string literals, i.e. as data.
"""

from __future__ import annotations

from dataclasses import dataclass

# Events per call of the generated doInfer on the columnar path: large enough that the
# per-call cost vanishes and the dense layers run as GEMMs, small enough that a batch of
# inputs and activations stays in the caches.
BATCH = 256


@dataclass(frozen=True)
class InputLayout:
    """How one model input is filled from columns, for one event.

    ``kinds`` is "scalar" or "array" per column. Scalar columns fill the input in order;
    one array column fills it whole (row-major); k array columns are k features
    interleaved along the last axis (column j gives element j of every row).
    With ``particles`` > 0 the array columns are jagged particle lists: each event's
    particles fill the first rows of the particle axis (``particles`` long; the features
    along the last axis when ``features_last``, else along the axis before it), the rest
    is zero. A ``mask`` input has no columns: 1 for each particle of the event, then 0.
    Where the model's particle axis is chosen at run time (``ScorerSpec.particle_param``),
    ``particles`` is the most an event may have and ``size`` is counted at that many;
    each call then runs at its own length of that axis.
    """

    tensor: str
    ctype: str  # float, std::int64_t
    size: int  # elements per event
    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    particles: int = 0
    features_last: bool = True
    mask: bool = False

    @property
    def is_array(self) -> bool:
        return "array" in self.kinds

    @property
    def per_particle(self) -> int:
        """Elements per particle (the features, or 1 for a mask) of a particle input."""
        return self.size // self.particles

    @property
    def column_length(self) -> int:
        """Elements each array column must have per event (fixed-length arrays)."""
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
    size_params: tuple[str, ...]  # run-time sizes of the Session: the batch size
    infer_params: tuple[tuple[str, ...], ...]  # per input, the new run-time sizes before it
    inputs: tuple[InputLayout, ...]
    outputs: tuple[OutputLayout, ...]
    same_output_types: bool
    overflow: str = "refuse"  # events with more particles than the model's axis: or "truncate"
    sort_by: str | None = None  # particles in decreasing order of this array column
    # The size parameter of a particle axis chosen at run time (each event is run at its
    # own number of particles, at most the inputs' `particles`), or None: a fixed axis.
    particle_param: str | None = None

    @property
    def namespace(self) -> str:
        return f"sofie_score_{self.tag}"

    @property
    def batch(self) -> int:
        """Events per call on the columnar path (1 for a model of fixed batch size 1)."""
        return BATCH if any(p != self.particle_param for p in self.size_params) else 1

    @property
    def particles(self) -> int:
        """The particle axis' length (its largest, if chosen at run time); 0: none."""
        return next((i.particles for i in self.inputs if i.particles), 0)

    @property
    def output_size(self) -> int:
        return sum(o.size for o in self.outputs)

    @property
    def columns(self) -> list[str]:
        """The columns the scorer reads, in the order of its arguments: the inputs'
        columns, then the sort column."""
        names = [c for i in self.inputs for c in i.columns]
        return names + ([self.sort_by] if self.sort_by else [])

    @property
    def column_ctypes(self) -> list[str]:
        types = [i.ctype for i in self.inputs for _ in i.columns]
        return types + (["float"] if self.sort_by else [])

    @property
    def column_kinds(self) -> list[str]:
        kinds = [k for i in self.inputs for k in i.kinds]
        return kinds + (["array"] if self.sort_by else [])

    @property
    def jagged(self) -> bool:
        return any(i.particles for i in self.inputs)

    @property
    def return_type(self) -> str:
        return "float" if self.output_size == 1 else "ROOT::RVecF"


def c_string(text: str) -> str:
    """text as a C++ string literal made only of octal escapes: data, never code."""
    return '"' + "".join(f"\\{b:03o}" for b in text.encode("utf-8", "surrogateescape")) + '"'


COLUMN_STRUCT = """\
// One column of a range of events: scalars (offsets null) or arrays whose values for
// event e are data[offsets[e]] .. data[offsets[e + 1] - 1], in the model input's type.
struct Column {
   const void *data;
   const std::int64_t *offsets;
};"""


def _run_function(spec: ScorerSpec) -> str:
    """Run(): m events through the Session, output k into outs[k] (m x its size).

    When every output is float and of fixed size, the generated free function doInfer()
    writes them straight into the caller's buffers: Session::infer() would allocate a
    std::vector per call (tens of ns, as much as a small model's whole inference).
    Otherwise infer() and a checked copy. A template, so that the branch not taken is
    never instantiated.
    """
    infer_args = []
    for k, params in enumerate(spec.infer_params):
        infer_args += ["P" if p == spec.particle_param else "m" for p in params]
        infer_args.append(f"w.in{k}.data()")
    if len(spec.outputs) == 1:
        outputs = ["y"]
    elif spec.same_output_types:
        outputs = [f"y[{k}]" for k in range(len(spec.outputs))]
    else:
        outputs = [f"std::get<{k}>(y)" for k in range(len(spec.outputs))]
    copies = "\n".join(
        f"   CopyOut({expr}, outs[{k}], m * {out.size}, {c_string(out.tensor)});"
        for k, (expr, out) in enumerate(zip(outputs, spec.outputs)))
    slow = f"   const auto y = w.session.infer({', '.join(infer_args)});\n{copies}\n"
    if not all(o.ctype == "float" for o in spec.outputs):
        body = slow
    else:
        outs = [f"outs[{k}]" for k in range(len(spec.outputs))]
        body = (f"   if constexpr (!{spec.model_namespace}::hasDynamicOutputTensors) {{\n"
                f"      doInfer(w.session, {', '.join(infer_args + outs)});\n"
                "   } else {\n" + slow.replace("\n   ", "\n      ").replace("   ", "      ", 1)
                + "   }\n")
    return ("template <typename W>\n"
            "void Run(W &w, std::size_t m, [[maybe_unused]] std::size_t P, float *const *outs)\n"
            "{\n" + body + "}")


def _worker_struct(spec: ScorerSpec) -> str:
    """A Session with the input buffers of `batch` events: one per slot or thread."""
    sizes = "".join(f", {spec.particles}" if p == spec.particle_param else ", batch"
                    for p in spec.size_params)
    members = "\n".join(f"   std::vector<{i.ctype}> in{k};" for k, i in enumerate(spec.inputs))
    inits = "".join(f", in{k}(batch * {i.size})" for k, i in enumerate(spec.inputs))
    return f"""\
struct Worker {{
   Session session;
{members}
   std::vector<std::uint32_t> order; // the particles of one event, sorted
   // a run-time particle axis: the events of a range by particle count, and the outputs
   // of one batch of them before they go to their events' rows
   std::vector<std::size_t> events, counts;
   std::vector<float> outputs;
   std::size_t batch;
   Worker(const std::string &weights, std::size_t batch)
      : session(weights{sizes}){inits}, outputs(batch * {spec.output_size}), batch(batch)
   {{
   }}
}};"""


def _jagged_columns(spec: ScorerSpec) -> list[int]:
    """The column numbers of every jagged input column, then the sort column (the last)."""
    jagged = []
    position = 0
    for layout in spec.inputs:
        for _ in layout.columns:
            if layout.particles:
                jagged.append(position)
            position += 1
    if spec.sort_by:
        jagged.append(len(spec.columns) - 1)
    return jagged


def _pack_function(spec: ScorerSpec) -> str:
    """Pack(): event e of the columns into row b of the Worker's input buffers."""
    lines = []
    columns = spec.columns
    jagged_columns = _jagged_columns(spec)
    if jagged_columns:
        first = jagged_columns[0]
        particles = spec.particles
        run_time = "true" if spec.particle_param else "false"
        lines.append(f"   const std::size_t n = Length(c[{first}], e);")
        for j in jagged_columns[1:]:
            lines.append(f"   if (Length(c[{j}], e) != n)\n"
                         f"      {spec.namespace}::Unequal({j}u, Length(c[{j}], e), {first}u, n);")
        if spec.overflow == "refuse":
            lines.append(f"   if (n > {particles})\n"
                         f"      {spec.namespace}::TooMany({first}u, n, {particles}, {run_time});")
        # P: the particle axis of this call (the model's, or the event's own count)
        lines.append("   const std::size_t count = n < P ? n : P;")
        if spec.sort_by:
            sort = len(columns) - 1
            lines += [
                "   w.order.resize(n);",
                "   for (std::uint32_t i = 0; i < n; ++i)",
                "      w.order[i] = i;",
                f"   const float *key = Data<float>(c[{sort}]) + c[{sort}].offsets[e];",
                "   // decreasing key, ties in their original order; NaN keys last",
                "   std::stable_sort(w.order.begin(), w.order.end(), [key](std::uint32_t a, "
                "std::uint32_t b) {",
                "      return key[a] > key[b] || (key[a] == key[a] && key[b] != key[b]);",
                "   });",
                "   const std::uint32_t *order = w.order.data();",
            ]
    column = 0
    for k, layout in enumerate(spec.inputs):
        t = layout.ctype
        if layout.particles:  # laid out at this call's particle axis, P
            lines.append(f"   {t} *in{k} = w.in{k}.data() + b * {layout.per_particle} * P;")
        else:
            lines.append(f"   {t} *in{k} = w.in{k}.data() + b * {layout.size};")
        if layout.mask:
            lines.append("   for (std::size_t p = 0; p < P; ++p)\n"
                         f"      in{k}[p] = p < count ? {t}(1) : {t}(0);")
            continue
        if layout.particles:
            features = len(layout.columns)
            lines.append(f"   std::fill(in{k}, in{k} + {features} * P, {t}(0));")
            for j in range(features):
                dst = (f"in{k}[p * {features} + {j}]" if layout.features_last
                       else f"in{k}[{j} * P + p]")
                src = "src[order[p]]" if spec.sort_by else "src[p]"
                lines.append(f"   {{\n      const {t} *src = Data<{t}>(c[{column}]) + "
                             f"c[{column}].offsets[e];\n"
                             f"      for (std::size_t p = 0; p < count; ++p)\n"
                             f"         {dst} = {src};\n   }}")
                column += 1
            continue
        stride = len(layout.columns) if layout.is_array else 1
        for j, kind in enumerate(layout.kinds):
            if kind == "scalar":
                lines.append(f"   in{k}[{j}] = Data<{t}>(c[{column}])[e];")
            else:
                n = layout.column_length
                length = f"Length(c[{column}], e)"
                lines.append(
                    f"   if ({length} != {n})\n"
                    f"      {spec.namespace}::WrongLength({column}u, {length}, {n});\n"
                    f"   {{\n      const {t} *src = Data<{t}>(c[{column}]) + "
                    f"c[{column}].offsets[e];\n"
                    f"      for (std::size_t i = 0; i < {n}; ++i)\n"
                    f"         in{k}[i * {stride} + {j}] = src[i];\n   }}")
            column += 1
    return ("template <typename W>\n"
            "void Pack(const Column *c, std::size_t e, std::size_t b, W &w, "
            "[[maybe_unused]] std::size_t P)\n"
            "{\n" + "\n".join(lines) + "\n}")


def _particles_function(spec: ScorerSpec) -> str:
    """RunParticles(): the particle axis to run event e at: the model's own, or, where it
    is chosen at run time, the event's number of particles (at least 1: an event without
    any is run at one zero particle with mask 0; at most the largest the Session has)."""
    if not spec.particle_param:
        return ("constexpr bool kRunTimeParticles = false;\n"
                "inline std::size_t RunParticles(const Column *, std::size_t)\n"
                f"{{\n   return {spec.particles or 1};\n}}")
    first = _jagged_columns(spec)[0]
    most = spec.particles
    return ("constexpr bool kRunTimeParticles = true;\n"
            "inline std::size_t RunParticles(const Column *c, std::size_t e)\n"
            f"{{\n   const std::size_t n = Length(c[{first}], e);\n"
            f"   return n == 0 ? 1 : (n < {most} ? n : {most});\n}}")


def _output_offsets(spec: ScorerSpec) -> list[int]:
    """Where each output starts in the concatenation of all outputs of one event."""
    offsets, offset = [], 0
    for out in spec.outputs:
        offsets.append(offset)
        offset += out.size
    return offsets


def compiled_source(spec: ScorerSpec) -> str:
    """The .cxx compiled into the shared library."""
    ns = spec.namespace
    weights = c_string(spec.weights) if spec.weights else '""'
    names = ",\n   ".join(c_string(c) for c in spec.columns)
    offsets = [f"out + {offset}" for offset in _output_offsets(spec)]
    n_out = len(spec.outputs)
    out_pointers = "\n".join(f"         at[{k}] = outs[{k}] + start * {o.size};"
                             for k, o in enumerate(spec.outputs))
    scratch_pointers = "\n".join(f"      at[{k}] = w.outputs.data() + w.batch * {off};"
                                 for k, off in enumerate(_output_offsets(spec)))
    scatter = "\n".join(
        f"            std::copy_n(at[{k}] + b * {o.size}, {o.size}, "
        f"outs[{k}] + w.events[g + b] * {o.size});" for k, o in enumerate(spec.outputs))
    return f"""\
// Generated by sofie_pytorch.scoring: the compiled half of scorer {spec.tag}.
#include "{spec.model_header}"
#include "SofiePyTorch/SlotSessions.hxx"

#include <dlfcn.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" void openblas_set_num_threads(int);

#define SOFIE_SCORE_API __attribute__((visibility("default")))

namespace {ns} {{
{COLUMN_STRUCT}
[[noreturn]] SOFIE_SCORE_API void WrongLength(unsigned column, std::size_t got, std::size_t want);
[[noreturn]] void Unequal(unsigned column, std::size_t got, unsigned first, std::size_t want);
[[noreturn]] void TooMany(unsigned column, std::size_t got, std::size_t want, bool runTime);
}} // namespace {ns}

namespace {{
using Session = {spec.model_namespace}::Session;
using {ns}::Column;

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

{_worker_struct(spec)}

std::unique_ptr<Worker> MakeWorker(std::size_t batch)
{{
   // One event loop per core already: BLAS threads would only compete.
   // (Set here, not in a static initialiser: OpenBLAS must have initialised itself first.)
   openblas_set_num_threads(1);
   const std::string weights = WeightsPath();
   try {{
      return std::make_unique<Worker>(weights, batch);
   }} catch (const std::exception &e) {{
      throw std::runtime_error("sofie_pytorch.rdf: could not make the model's Session from the "
                               "weight file " + weights + ": " + e.what());
   }}
}}

template <typename T>
inline const T *Data(const Column &c)
{{
   return static_cast<const T *>(c.data);
}}

inline std::size_t Length(const Column &c, std::size_t e)
{{
   return static_cast<std::size_t>(c.offsets[e + 1] - c.offsets[e]);
}}

template <typename Vector>
void CopyOut(const Vector &y, float *out, std::size_t n, const char *tensor)
{{
   if (y.size() != n)
      throw std::runtime_error(std::string("sofie_pytorch.rdf: output ") + tensor + " has " +
                               std::to_string(y.size()) + " elements, expected " +
                               std::to_string(n));
   for (std::size_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(y[i]);
}}

{_pack_function(spec)}

{_particles_function(spec)}

{_run_function(spec)}

std::unique_ptr<SOFIE::PyTorch::SlotSessions<Worker>> gSlots;

// One per process, made on its first use: a Dask worker builds its Sessions once, however
// many partitions it runs (each is a single-threaded RDataFrame whose slot is always 0).
SOFIE::PyTorch::ThreadSessions<Worker> &ProcessWorkers()
{{
   static auto workers =
      SOFIE::PyTorch::ThreadSessions<Worker>::WithMaker([] {{ return MakeWorker(1); }});
   return workers;
}}

// The columnar path's: a batch-sized Session per calling thread.
SOFIE::PyTorch::ThreadSessions<Worker> &BatchWorkers()
{{
   static auto workers =
      SOFIE::PyTorch::ThreadSessions<Worker>::WithMaker([] {{ return MakeWorker({spec.batch}); }});
   return workers;
}}

void ScoreOne(Worker &w, const Column *columns, float *out)
{{
   const std::size_t P = RunParticles(columns, 0);
   Pack(columns, 0, 0, w, P);
   float *const outs[] = {{{", ".join(offsets)}}};
   Run(w, 1, P, outs);
}}

// Events first .. first + n - 1, output k into outs[k], in batches of at most w.batch.
void ScoreRange(Worker &w, const Column *columns, std::size_t first, std::size_t n,
                float *const *outs)
{{
   float *at[{n_out}];
   if constexpr (!kRunTimeParticles) {{
      const std::size_t P = RunParticles(columns, first);
      for (std::size_t start = 0; start < n; start += w.batch) {{
         const std::size_t m = std::min(w.batch, n - start);
         for (std::size_t b = 0; b < m; ++b)
            Pack(columns, first + start + b, b, w, P);
{out_pointers}
         Run(w, m, P, at);
      }}
   }} else {{
      // Each event runs at its own number of particles: the events of equal count (in
      // entry order) go through the model together, their outputs back to their rows.
      w.events.resize(n);
      w.counts.resize(n);
      for (std::size_t i = 0; i < n; ++i) {{
         w.events[i] = i;
         w.counts[i] = RunParticles(columns, first + i);
      }}
      std::stable_sort(w.events.begin(), w.events.end(),
                       [&w](std::size_t a, std::size_t b) {{ return w.counts[a] < w.counts[b]; }});
{scratch_pointers}
      for (std::size_t g = 0; g < n;) {{
         const std::size_t P = w.counts[w.events[g]];
         std::size_t m = 0;
         for (; m < w.batch && g + m < n && w.counts[w.events[g + m]] == P; ++m)
            Pack(columns, first + w.events[g + m], m, w, P);
         Run(w, m, P, at);
         for (std::size_t b = 0; b < m; ++b) {{
{scatter}
         }}
         g += m;
      }}
   }}
}}
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
      gSlots = std::make_unique<SOFIE::PyTorch::SlotSessions<Worker>>(nSlots, weights,
                                                                        std::size_t{{1}});
   }} catch (const std::exception &e) {{
      throw std::runtime_error("sofie_pytorch.rdf: could not make the model's Sessions from the "
                               "weight file " + weights + ": " + e.what());
   }}
}}

SOFIE_SCORE_API unsigned ThreadSessionsMade()
{{
   return static_cast<unsigned>(ProcessWorkers().size());
}}

SOFIE_SCORE_API void Infer(unsigned slot, const Column *columns, float *out)
{{
   if (!gSlots)
      throw std::logic_error("sofie_pytorch.rdf: the scorer's Sessions were not set up");
   ScoreOne(gSlots->operator[](slot), columns, out);
}}

SOFIE_SCORE_API void InferOnThisThread(const Column *columns, float *out)
{{
   ScoreOne(ProcessWorkers().Local(), columns, out);
}}

[[noreturn]] SOFIE_SCORE_API void WrongLength(unsigned column, std::size_t got, std::size_t want)
{{
   throw std::length_error(std::string("sofie_pytorch.rdf: column '") + kColumns[column] +
                           "' has " + std::to_string(got) + " elements in this event, the "
                           "model takes " + std::to_string(want) + " per event");
}}

[[noreturn]] void Unequal(unsigned column, std::size_t got, unsigned first, std::size_t want)
{{
   throw std::length_error(std::string("sofie_pytorch.rdf: column '") + kColumns[column] +
                           "' has " + std::to_string(got) + " elements in this event, column '" +
                           kColumns[first] + "' has " + std::to_string(want) +
                           ": the particle lists of one event must have the same length");
}}

[[noreturn]] void TooMany(unsigned column, std::size_t got, std::size_t want, bool runTime)
{{
   throw std::length_error(std::string("sofie_pytorch.rdf: column '") + kColumns[column] +
                           "' has " + std::to_string(got) + " particles in this event, the "
                           "model takes at most " + std::to_string(want) +
                           (runTime ? " (max_particles, --max-particles; or keep the first "
                                      "ones: particles='truncate', --particles truncate)"
                                    : " (keep the first ones: particles='truncate', "
                                      "--particles truncate)"));
}}
}} // namespace {ns}

// The columnar path, through ctypes: events first .. first + n - 1 of the columns, output
// k into outs[k] (n x its size per event). 0 on success; else 1 and the message in error.
extern "C" SOFIE_SCORE_API int sofie_score_columns_{spec.tag}(
   const Column *columns, std::size_t first, std::size_t n, float *const *outs, char *error,
   std::size_t errorSize)
{{
   try {{
      ScoreRange(BatchWorkers().Local(), columns, first, n, outs);
      return 0;
   }} catch (const std::exception &e) {{
      if (errorSize > 0) {{
         std::strncpy(error, e.what(), errorSize - 1);
         error[errorSize - 1] = '\\0';
      }}
      return 1;
   }}
}}
"""


def _views(spec: ScorerSpec) -> list[str]:
    """The body lines that make the column views c0, c1, ... of one event."""
    lines = [f"   Column columns[{len(spec.columns)}];"]
    for j, (kind, ctype) in enumerate(zip(spec.column_kinds, spec.column_ctypes)):
        if kind == "scalar":
            lines.append(f"   const {ctype} v{j} = Scalar<{ctype}>(c{j});")
            lines.append(f"   columns[{j}] = Column{{&v{j}, nullptr}};")
        else:
            lines.append(f"   const std::int64_t o{j}[2] = "
                         f"{{0, static_cast<std::int64_t>(c{j}.size())}};")
            lines.append(f"   columns[{j}] = Column{{Values<{ctype}, {j}>(c{j}), o{j}}};")
    return lines


def _call(spec: ScorerSpec, slot_call: str) -> list[str]:
    if spec.output_size == 1:
        return ["   float out;", f"   {slot_call}columns, &out);", "   return out;"]
    return [f"   ROOT::RVecF out({spec.output_size});",
            f"   {slot_call}columns, out.data());", "   return out;"]


def cling_header(spec: ScorerSpec) -> str:
    """The header cling reads, on the client and on every Dask worker."""
    ns = spec.namespace
    n = len(spec.columns)
    template = "template <" + ", ".join(f"typename C{i}" for i in range(n)) + ">"
    args = ", ".join(f"const C{i} &c{i}" for i in range(n))
    guard = f"SOFIE_SCORE_{spec.tag.upper()}_H"
    views = "\n".join(_views(spec))
    return f"""\
// Generated by sofie_pytorch.scoring: the part of scorer {spec.tag} that cling reads (C++17).
#ifndef {guard}
#define {guard}

#include <ROOT/RVec.hxx>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace {ns} {{
{COLUMN_STRUCT}

// In the compiled library:
void Setup(unsigned nSlots);
unsigned ThreadSessionsMade();
void Infer(unsigned slot, const Column *columns, float *out);
void InferOnThisThread(const Column *columns, float *out);

template <typename T, typename C>
inline T Scalar(const C &value)
{{
   static_assert(std::is_arithmetic<C>::value,
                 "sofie_pytorch.rdf: a scalar input column must be numeric");
   return static_cast<T>(value);
}}

// An array column's values as the model's type T: its own storage when it has that type,
// else a copy in a buffer per thread and argument (J).
template <typename T, unsigned J, typename V>
inline const T *Values(const V &values)
{{
   using E = typename V::value_type;
   static_assert(std::is_arithmetic<E>::value,
                 "sofie_pytorch.rdf: an array input column must hold numbers");
   if constexpr (std::is_same<E, T>::value) {{
      return values.data();
   }} else {{
      thread_local std::vector<T> buffer;
      buffer.resize(values.size());
      for (std::size_t i = 0; i < values.size(); ++i)
         buffer[i] = static_cast<T>(values[i]);
      return buffer.data();
   }}
}}

// Every output of the model, concatenated, for one event (a float if there is one).
{template}
inline {spec.return_type} Score(unsigned slot, {args})
{{
{views}
{chr(10).join(_call(spec, "Infer(slot, "))}
}}

{template}
inline {spec.return_type} ScoreOnThisThread({args})
{{
{views}
{chr(10).join(_call(spec, "InferOnThisThread("))}
}}

// Output k of the concatenation: Slice(all, offset, size).
inline ROOT::RVecF Slice(const ROOT::RVecF &all, std::size_t offset, std::size_t size)
{{
   return ROOT::RVecF(all.begin() + offset, all.begin() + offset + size);
}}
}} // namespace {ns}

#endif
"""
