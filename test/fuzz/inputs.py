"""What the fuzzer feeds the parser: seed models, byte-level mutations, shape lists.

Hypothesis draws the mutations (a byte-level strategy over the seed files): bit flips,
overwritten bytes, truncation, insertions, deletions and duplications of the whole file,
the same inside one member of the zip archive (re-zipped with a valid CRC, so the damage
reaches torch's own readers: TorchScript code, pickles, the .pt2 JSON), or plain random
bytes; and shape lists that are near the model's real shapes or arbitrary Python values.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from hypothesis import strategies as st
from torch import nn


@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes
    shapes: tuple[tuple[int, ...], ...]


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 5)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc(x) + y)


def _scripted(module: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buffer)
    return buffer.getvalue()


def _exported(module: nn.Module, example: tuple[torch.Tensor, ...]) -> bytes:
    buffer = io.BytesIO()
    torch.export.save(torch.export.export(module, example), buffer)
    return buffer.getvalue()


def make_seeds() -> list[Seed]:
    """Small valid models of each format, from a fixed seed."""
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax(dim=1))
    conv = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten())
    traced = io.BytesIO()
    torch.jit.save(torch.jit.trace(mlp.eval(), torch.randn(2, 4)), traced)
    return [
        Seed("mlp_script.pt", _scripted(mlp), ((2, 4),)),
        Seed("mlp_trace.pt", traced.getvalue(), ((2, 4),)),
        Seed("conv_script.pt", _scripted(conv.eval()), ((1, 2, 5, 5),)),
        Seed("two_inputs.pt", _scripted(TwoInputs()), ((2, 3), (2, 5))),
        Seed("mlp.pt2", _exported(mlp.eval(), (torch.randn(2, 4),)), ((2, 4),)),
    ]


# ---------------------------------------------------------------- byte-level mutations

_OP = st.tuples(
    st.sampled_from(["flip", "set", "truncate", "insert", "delete", "duplicate"]),
    st.integers(min_value=0, max_value=2**31),  # position, modulo the length
    st.binary(min_size=1, max_size=16),  # payload or length source
)


def mutate(data: bytes, ops: list[tuple[str, int, bytes]]) -> bytes:
    buf = bytearray(data)
    for op, where, payload in ops:
        n = len(buf)
        pos = where % (n + 1)
        if op == "flip" and n:
            buf[pos % n] ^= 1 << (payload[0] % 8)
        elif op == "set" and n:
            buf[pos % n] = payload[0]
        elif op == "truncate":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = payload
        elif op == "delete":
            del buf[pos : pos + len(payload) * 8]
        elif op == "duplicate":
            buf[pos:pos] = buf[pos : pos + len(payload) * 8]
    return bytes(buf)


def mutate_member(data: bytes, index: int, ops: list[tuple[str, int, bytes]]) -> bytes:
    """Mutate one member of a zip archive and re-zip it (valid CRCs)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        infos = zin.infolist()
        chosen = index % len(infos)
        for i, info in enumerate(infos):
            content = zin.read(info.filename)
            zout.writestr(info, mutate(content, ops) if i == chosen else content)
    return out.getvalue()


@st.composite
def model_bytes(draw: st.DrawFn, seeds: list[Seed]) -> tuple[Seed, bytes, str]:
    seed = draw(st.sampled_from(seeds))
    mode = draw(st.sampled_from(["bytes", "member", "member", "random", "valid"]))
    ops = draw(st.lists(_OP, min_size=1, max_size=6))
    if mode == "bytes":
        return seed, mutate(seed.data, ops), mode
    if mode == "member":
        return seed, mutate_member(seed.data, draw(st.integers(0, 100)), ops), mode
    if mode == "random":
        return seed, draw(st.binary(max_size=4096)), mode
    return seed, seed.data, mode


# ---------------------------------------------------------------- shapes and dtypes

_DIM = st.one_of(
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=-3, max_value=0),
    st.sampled_from([2**31, 2**40, 2**63 - 1, 2**64 + 5]),
)
_WILD = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
              st.text(max_size=5)),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner),
    max_leaves=12,
)


@st.composite
def shapes(draw: st.DrawFn, seed: Seed, cpp: bool) -> list:
    """Shapes near the model's own (dims changed, inputs added or dropped), or wild."""
    if not cpp and draw(st.integers(0, 9)) == 0:
        return draw(_WILD)
    result = [list(s) for s in seed.shapes]
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["dim", "dim", "add", "drop", "append", "pop"]))
        if not result:
            break
        i = draw(st.integers(0, len(result) - 1))
        if action == "dim" and result[i]:
            result[i][draw(st.integers(0, len(result[i]) - 1))] = draw(_DIM)
        elif action == "add":
            result.append(list(result[i]))
        elif action == "drop":
            result.pop(i)
        elif action == "append":
            result[i].append(draw(st.integers(1, 4)))
        elif action == "pop" and result[i]:
            result[i].pop()
    if cpp:  # std::vector<size_t>: only what fits
        result = [[d % 2**64 for d in s] for s in result]
    return result


DTYPE_NAMES = ["float", "double", "int64", "int32", "bool", "float16", "uint8", "complex64", "x"]


def dtypes(seed: Seed) -> st.SearchStrategy:
    return st.one_of(st.none(), st.lists(st.sampled_from(DTYPE_NAMES), max_size=3))


def write_input(directory: Path, index: int, seed: Seed, data: bytes) -> Path:
    suffix = ".pt2" if seed.name.endswith(".pt2") else ".pt"
    path = directory / f"input_{index:06d}{suffix}"
    path.write_bytes(data)
    return path
