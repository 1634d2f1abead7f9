"""Call a user's own function in a library compiled for every x86-64 level, as a user's
program would: dlopen the dispatcher, then look the function up by name in the process's
global scope (dlsym(RTLD_DEFAULT, ...)), where the level the dispatcher loaded put it.

usage: call_user_library.py LIBRARY WEIGHTS IN.npy OUT.npy
The library exports `void Score(const char *weights, const float *x, float *y, int n)`.
Prints the level the dispatcher loaded (or its reason for loading none) on the first line.
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np


def main(library: str, weights: str, inputs: str, out: str) -> None:
    handle = ctypes.CDLL(library)
    level, error = handle.sofie_pytorch_isa_level, handle.sofie_pytorch_isa_error
    level.restype = error.restype = ctypes.c_char_p
    if not level():
        raise SystemExit(error().decode())
    print(level().decode(), flush=True)
    x = np.ascontiguousarray(np.load(inputs), dtype=np.float32)
    y = np.zeros(len(x), dtype=np.float32)
    pointer = ctypes.POINTER(ctypes.c_float)
    ctypes.CDLL(None).Score(weights.encode(), x.ctypes.data_as(pointer), y.ctypes.data_as(pointer),
                 ctypes.c_int(len(x)))
    np.save(out, y)


if __name__ == "__main__":
    main(*sys.argv[1:5])
