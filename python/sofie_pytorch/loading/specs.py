"""Input specifications: the shapes and dtypes a caller gives, checked and normalised."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from ..errors import InputSpecError
from .dtypes import canonical_dtype, is_tensor_type_vector, torch_dtype

# One example input is allocated per model input to run the model once; past this many
# elements the shape is a typo, not a model (2**28 floats is 1 GiB).
MAX_ELEMENTS = 2**28

# A dimension given as -1 (or a name such as "N") is chosen at run time. The model is
# traced with this size in its place: not 1, which the exporter could treat as a
# broadcastable special case.
DYNAMIC = -1
# The same from C++ (SOFIE::PyTorch::kDynamic, size_t(-1)), e.g. in a PyROOT std::vector.
DYNAMIC_SIZE_T = 2**64 - 1
TRACE_SIZE_OF_DYNAMIC = 2

Dim = int | str


def as_sequence(value: object) -> Sequence[object] | None:
    """A sequence as a list, including the C++ std::vector PyROOT gives (which is not a
    collections.abc.Sequence); None for anything else. Strings are not sequences here."""
    if isinstance(value, (str, bytes)):
        return None
    if isinstance(value, Sequence):
        return list(value)
    if type(value).__name__.startswith("vector<") and hasattr(value, "__len__"):
        return list(value)  # type: ignore[call-overload]
    return None


@dataclass(frozen=True)
class InputSpec:
    """One model input: its name in the generated code, shape and SOFIE dtype name."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str

    @property
    def dynamic_axes(self) -> dict[int, str]:
        """Axis -> symbolic name, for the dimensions chosen at run time."""
        return {i: d for i, d in enumerate(self.shape) if isinstance(d, str)}

    @property
    def trace_shape(self) -> tuple[int, ...]:
        return tuple(TRACE_SIZE_OF_DYNAMIC if isinstance(d, str) else d for d in self.shape)

    def example(self, generator: torch.Generator,
                dynamic_size: int = TRACE_SIZE_OF_DYNAMIC) -> torch.Tensor:
        """A deterministic example tensor, used only to run the model once."""
        dt = torch_dtype(self.dtype)
        shape = tuple(dynamic_size if isinstance(d, str) else d for d in self.shape)
        if dt.is_floating_point:
            return torch.randn(shape, generator=generator, dtype=dt)
        if dt == torch.bool:
            return torch.randint(0, 2, shape, generator=generator).to(torch.bool)
        # Integer inputs are usually indices: keep them small and non-negative.
        return torch.randint(0, 2, shape, generator=generator, dtype=dt)


def _dimension(value: object, where: str, axis: int) -> Dim:
    if isinstance(value, str):
        if not value.isidentifier():
            raise InputSpecError(
                f"{where}: a dimension chosen at run time is named by an identifier "
                f"such as 'N', not {value!r}"
            )
        return value
    if isinstance(value, bool):
        raise InputSpecError(f"{where}: {value!r} is not a dimension (a positive integer)")
    try:
        dim = operator.index(value)
    except TypeError:
        raise InputSpecError(
            f"{where}: {value!r} is not a dimension (a positive integer)"
        ) from None
    if dim in (DYNAMIC, DYNAMIC_SIZE_T):
        return "N" if axis == 0 else f"N{axis}"
    if dim == 0:
        raise InputSpecError(f"{where}: a dimension of 0 gives an empty tensor; use sizes >= 1")
    if dim < 0:
        raise InputSpecError(
            f"{where}: negative dimension {dim}; use sizes >= 1, or -1 for a size chosen "
            f"at run time"
        )
    return dim


def normalise_shapes(shapes: object) -> list[tuple[Dim, ...]]:
    """Check a user's shape list (a sequence of sequences of ints) and return tuples."""
    shapes = as_sequence(shapes)
    if shapes is None:
        raise InputSpecError(
            "input shapes must be a list with one shape per model input, e.g. [[1, 10]]"
        )
    if len(shapes) == 0:
        raise InputSpecError(
            "no input shapes given: pass one shape per model input, e.g. [[1, 10]]"
        )
    result = []
    for i, given in enumerate(shapes):
        shape = as_sequence(given)
        if shape is None:
            raise InputSpecError(
                f"shape of input {i} must be a list of integers, e.g. [1, 10], not {given!r}"
            )
        if len(shape) == 0:
            raise InputSpecError(
                f"shape of input {i} is empty: scalar inputs are not supported, use [1]"
            )
        dims = tuple(_dimension(d, f"shape of input {i}", axis) for axis, d in enumerate(shape))
        elements = 1
        for d in dims:
            elements *= TRACE_SIZE_OF_DYNAMIC if isinstance(d, str) else d
        if elements > MAX_ELEMENTS:
            raise InputSpecError(
                f"shape of input {i} {list(dims)} has {elements} elements, more than the "
                f"limit of {MAX_ELEMENTS}: check the shape"
            )
        result.append(dims)
    return result


def normalise_dtypes(dtypes: object, count: int) -> list[str]:
    """One SOFIE dtype name per input; missing dtypes default to float."""
    if dtypes is None:
        return ["float"] * count
    if is_tensor_type_vector(dtypes):  # the C++ signature's std::vector<ETensorType>
        names = [canonical_dtype(d, tensor_type=True) for d in as_sequence(dtypes)]
        return normalise_dtypes(names, count)
    if isinstance(dtypes, (str, bytes)) or as_sequence(dtypes) is None:
        dtypes = [dtypes]
    dtypes = list(as_sequence(dtypes))  # type: ignore[arg-type]
    if len(dtypes) == 0:
        return ["float"] * count
    if len(dtypes) == 1 and count > 1:
        dtypes = dtypes * count
    if len(dtypes) != count:
        raise InputSpecError(
            f"{len(dtypes)} dtypes given for {count} inputs: give one per input, or one for all"
        )
    return [canonical_dtype(d) for d in dtypes]


def make_specs(
    names: Sequence[str], shapes: object, dtypes: object, variadic: bool = False,
    optional: int = 0,
) -> list[InputSpec]:
    """Match the caller's shapes and dtypes with the model's input names (for a variadic
    forward(*inputs), one input per shape given). The last `optional` inputs have
    defaults: given (positionally, or by name when shapes is a mapping), they are inputs
    like the others; left out, the model uses their defaults.

    The specs come in the order of forward()'s parameters, whatever the mapping's order.
    """
    if isinstance(shapes, Mapping):
        return _specs_by_name(names, shapes, dtypes, variadic, optional)
    dims = normalise_shapes(shapes)
    if variadic:
        names = [f"input_{i}" for i in range(len(dims))]
    if len(names) - optional <= len(dims) < len(names):
        names = names[: len(dims)]
    if len(dims) != len(names):
        listed = ", ".join(names) if names else "none"
        left_out = f" (the last {optional} have defaults and may be left out)" if optional else ""
        raise InputSpecError(
            f"{len(dims)} input shapes given, but the model takes {len(names)} "
            f"input(s) ({listed}): give one shape per input{left_out}"
        )
    types = normalise_dtypes(dtypes, len(dims))
    return [InputSpec(n, s, t) for n, s, t in zip(names, dims, types)]


def _specs_by_name(
    names: Sequence[str], shapes: Mapping[object, object], dtypes: object, variadic: bool,
    optional: int,
) -> list[InputSpec]:
    """Shapes (and dtypes) given as {input name: shape}: the inputs named are the model's
    inputs, in forward()'s order; the others must have defaults."""
    if variadic:
        raise InputSpecError(
            "the model's forward(*inputs) has no input names: give the shapes as a list, "
            "one per input, in order"
        )
    unknown = [str(k) for k in shapes if k not in names]
    if unknown:
        raise InputSpecError(
            f"shapes given for {', '.join(repr(u) for u in unknown)}, which forward() does "
            f"not take: its inputs are {', '.join(names) if names else 'none'}"
        )
    required = list(names[: len(names) - optional])
    missing = [n for n in required if n not in shapes]
    if missing:
        raise InputSpecError(
            f"no shape given for {', '.join(missing)}: forward() needs "
            f"{'it' if len(missing) == 1 else 'them'} (only the inputs with defaults, "
            f"{', '.join(names[len(required):]) or 'none'}, may be left out)"
        )
    given = [n for n in names if n in shapes]
    dims = normalise_shapes([shapes[n] for n in given])
    if isinstance(dtypes, Mapping):
        stray = [str(k) for k in dtypes if k not in given]
        if stray:
            raise InputSpecError(
                f"dtypes given for {', '.join(repr(s) for s in stray)}, which have no "
                f"shape: give a shape for every input that has a dtype"
            )
        dtypes = [dtypes.get(n, "float") for n in given]
    types = normalise_dtypes(dtypes, len(given))
    return [InputSpec(n, s, t) for n, s, t in zip(given, dims, types)]
