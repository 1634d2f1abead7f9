"""The input element types the converter accepts, and their spellings."""

from __future__ import annotations

import onnx
import torch

from ..errors import InputSpecError

# Canonical name -> torch dtype. The canonical names are SOFIE's own spellings
# (ConvertTypeToString), so C++ and Python agree on them.
_DTYPES: dict[str, torch.dtype] = {
    "float": torch.float32,
    "double": torch.float64,
    "int64_t": torch.int64,
    "int32_t": torch.int32,
    "bool": torch.bool,
}

# What users type -> canonical name.
_ALIASES: dict[str, str] = {
    "float": "float",
    "float32": "float",
    "torch.float32": "float",
    "torch.float": "float",
    "double": "double",
    "float64": "double",
    "torch.float64": "double",
    "torch.double": "double",
    "int64": "int64_t",
    "int64_t": "int64_t",
    "long": "int64_t",
    "torch.int64": "int64_t",
    "torch.long": "int64_t",
    "int32": "int32_t",
    "int32_t": "int32_t",
    "int": "int32_t",
    "torch.int32": "int32_t",
    "bool": "bool",
    "torch.bool": "bool",
}


def _is_tensor_type(value: object) -> bool:
    """A SOFIE ETensorType value from PyROOT: cppyy makes it an int of a class so named."""
    return isinstance(value, int) and type(value).__name__ == "ETensorType"


def is_tensor_type_vector(value: object) -> bool:
    """A C++ std::vector<ETensorType> from PyROOT (whose items come out as plain ints)."""
    name = type(value).__name__
    return name.startswith("vector<") and name.rstrip("> ").endswith("ETensorType")


def tensor_type_name(number: int) -> str:
    """SOFIE's ETensorType numbers are ONNX's TensorProto data types (the engine's ONNX
    parser casts one into the other): 1 -> 'FLOAT', 7 -> 'INT64'."""
    try:
        return onnx.TensorProto.DataType.Name(int(number))
    except ValueError:
        return str(int(number))


def canonical_dtype(value: object, tensor_type: bool = False) -> str:
    """Turn a user's dtype (string, torch.dtype, numpy dtype, or SOFIE ETensorType, which
    is what C++ callers and PyROOT users of the C++ signature pass) into SOFIE's name.
    ``tensor_type``: value is an ETensorType number (an item of a std::vector of them)."""
    shown = value
    if tensor_type or _is_tensor_type(value):
        name = tensor_type_name(value)  # type: ignore[arg-type]
        shown = f"ETensorType::{name}"
        value = name
    key = str(value).strip().lower()
    if key.startswith("etensortype::"):
        key = key.split("::", 1)[1]
    try:
        return _ALIASES[key]
    except KeyError:
        known = ", ".join(sorted(_DTYPES))
        raise InputSpecError(
            f"unsupported input dtype {shown!r}: use one of {known}"
        ) from None


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of a canonical name."""
    return _DTYPES[canonical_dtype(name)]
