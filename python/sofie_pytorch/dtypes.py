"""The input element types the converter accepts, and their spellings."""

from __future__ import annotations

import torch

from .errors import InputSpecError

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


def canonical_dtype(value: object) -> str:
    """Turn a user's dtype (string, torch.dtype or numpy dtype) into SOFIE's name."""
    key = str(value).strip().lower()
    if key.startswith("etensortype::"):
        key = key.split("::", 1)[1]
    try:
        return _ALIASES[key]
    except KeyError:
        known = ", ".join(sorted(_DTYPES))
        raise InputSpecError(
            f"unsupported input dtype {value!r}: use one of {known}"
        ) from None


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of a canonical name."""
    return _DTYPES[canonical_dtype(name)]
