"""Reader: a PyTorch model run in-process through SOFIE code compiled by cling.

In the spirit of ROOT's ``TMVA::Experimental::RSofieReader``: give it a model and its
input shapes; it parses the model, generates the C++ code, JIT-compiles it with cling
and keeps a ``Session``. ``Compute(*inputs)`` then runs the generated code::

    reader = sofie_pytorch.Reader("model.pt", [[1, 4]])
    y = reader.Compute(np.ones((1, 4), np.float32))

After construction the reader no longer needs torch: every call runs generated C++.
The C++ object is ``reader.session`` (``infer()`` as generated), and
``reader.namespace`` is its namespace, e.g. for a ``Define`` in RDataFrame.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import api, jit
from .errors import InputSpecError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TensorInfo:
    """An input or output of the generated code: name, SOFIE type and shape, where a
    str names a dimension chosen at run time."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]

    @property
    def numpy_dtype(self) -> Any:
        return jit.NUMPY_DTYPES.get(self.dtype, np.float32)


def _shape(model: Any, name: str) -> tuple[int | str, ...]:
    if model.IsDimInputTensor(name) or model.IsDynamicTensor(name):
        dims = model.GetDimTensorShape(name)
        return tuple(str(d.param) if d.isParam else int(d.dim) for d in dims)
    return tuple(int(d) for d in model.GetTensorShape(name))


def _info(model: Any, name: str) -> TensorInfo:
    import ROOT

    dtype = str(ROOT.SOFIE.ConvertTypeToString(model.GetTensorType(name)))
    return TensorInfo(name, dtype, _shape(model, name))


class Reader:
    """Parse, generate and JIT-compile a PyTorch model; ``Compute`` runs it."""

    def __init__(
        self,
        model_or_path: object,
        input_shapes: object = None,
        example_inputs: object = None,
        dtypes: object = None,
        dynamic_batch: bool = False,
        max_size: int = 1024,
    ) -> None:
        """``max_size``: the largest value of a run-time dimension (the batch size with
        ``dynamic_batch``); the session allocates its buffers for it once."""
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise InputSpecError(f"max_size must be a positive integer, not {max_size!r}")
        self.max_size = max_size
        model = api.parse(model_or_path, input_shapes, example_inputs, dtypes, dynamic_batch)
        self.name = str(model.GetName())
        # Each reader gets its own namespace: cling cannot redefine one, and two models
        # of the same name (or one model converted twice) must not share code.
        code_name = jit.unique_name(self.name)
        model.SetFilename(code_name)
        self.inputs = [_info(model, str(n)) for n in model.GetInputTensorNames()]
        workdir = Path(tempfile.mkdtemp(prefix="sofie_pytorch_reader_"))
        try:
            header, weights = api.generate(model, workdir, code_name)
            # Output shapes are final only once the model is generated.
            self.outputs = [_info(model, str(n)) for n in model.GetOutputTensorNames()]
            self.namespace = jit.declare(header)
            # The weights are read by the constructor: the files are not needed after it.
            # One size argument per run-time dimension, after the file name.
            run_time = {d for i in self.inputs for d in i.shape if isinstance(d, str)}
            sizes = [max_size] * len(run_time)
            self.session = self.namespace.Session(str(weights) if weights else "", *sizes)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        log.info("compiled %s as namespace %s", self.name, f"SOFIE_{code_name}")

    def _arguments(self, inputs: tuple[Any, ...]) -> tuple[list[Any], dict[str, int]]:
        """infer()'s arguments: each input's run-time sizes (first use), then its data."""
        if len(inputs) != len(self.inputs):
            raise InputSpecError(
                f"{len(inputs)} input(s) given, the model takes {len(self.inputs)} "
                f"({', '.join(i.name for i in self.inputs)})"
            )
        args: list[Any] = []
        params: dict[str, int] = {}
        for info, value in zip(self.inputs, inputs):
            array = np.ascontiguousarray(value, dtype=info.numpy_dtype)
            if array.ndim != len(info.shape):
                raise InputSpecError(
                    f"input {info.name}: {array.ndim} dimension(s) given, the model "
                    f"expects shape {list(info.shape)}"
                )
            for axis, (want, got) in enumerate(zip(info.shape, array.shape)):
                if isinstance(want, str):
                    if got > self.max_size:
                        raise InputSpecError(
                            f"input {info.name}: axis {axis} ({want}) is {got}, more than "
                            f"max_size={self.max_size} given to the Reader"
                        )
                    if want not in params:
                        params[want] = int(got)
                        args.append(int(got))
                    elif params[want] != got:
                        raise InputSpecError(
                            f"input {info.name}: axis {axis} ({want}) is {got}, but "
                            f"{want} = {params[want]} from an earlier input"
                        )
                elif want != got:
                    raise InputSpecError(
                        f"input {info.name}: shape {list(array.shape)} given, the model "
                        f"was converted for {list(info.shape)}"
                    )
            args.append(array)
        return args, params

    @staticmethod
    def _output_shape(info: TensorInfo, params: dict[str, int], size: int) -> tuple[int, ...]:
        known = [params.get(d) if isinstance(d, str) else d for d in info.shape]
        if None in known:  # a size SOFIE derived (e.g. N*3): the only unknown is implied
            rest = int(np.prod([d for d in known if d is not None]))
            known = [size // max(rest, 1) if d is None else d for d in known]
        return tuple(int(d) for d in known)  # type: ignore[arg-type]

    def Compute(self, *inputs: Any) -> np.ndarray | list[np.ndarray]:
        """Run the generated code: one numpy array per input, in the model's order.

        Returns one array, or a list of arrays for a model with several outputs."""
        args, params = self._arguments(inputs)
        result = self.session.infer(*args)
        count = len(self.outputs)
        values = [result] if count == 1 else [result[i] for i in range(count)]
        arrays = []
        for info, value in zip(self.outputs, values):
            shape = self._output_shape(info, params, int(value.size()))
            arrays.append(jit.to_numpy(value, info.numpy_dtype, shape))
        return arrays[0] if len(arrays) == 1 else arrays

    compute = Compute
    __call__ = Compute
