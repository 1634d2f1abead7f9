"""Issue 19, items 1 and 2, on small models (weaver's taggers: test_weaver_models.py):

- an input of forward() with a default (mask=None) is an input when it is given, through
  every entry point, and takes its default when it is left out;
- what is computed from constants (nonzero, tril_indices, arange) is folded, and a shape
  check is not taken for control flow on values, while a real branch on values names its
  source line and module;
- errors of the engine (parse and Generate) reach the user whole.

Generated code is compiled with g++ -O1 and compared with Torch (rtol 1e-4, atol 1e-5).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sofie_pytorch
import torch
from compiled import compile_and_run_many
from sofie_pytorch import _root
from sofie_pytorch.errors import GenerationError, InputSpecError, TracingError
from torch import nn

RTOL, ATOL = 1e-4, 1e-5


class MaskedMean(nn.Module):
    """weaver's signature: forward(x, v=None, mask=None); the mask defaults to all ones."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor, v: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = torch.ones_like(x[:, :1])
        if v is not None:
            x = x + v
        counts = mask.sum(dim=-1).clamp(min=1)
        return self.fc((x * mask).sum(dim=-1) / counts)


def _inputs(batch: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(batch)
    x = torch.randn(batch, 4, 6, generator=generator)
    mask = torch.zeros(batch, 1, 6)
    mask[:, :, :4] = 1
    return {"x": x, "v": torch.randn(batch, 4, 6, generator=generator), "mask": mask}


def _torch(model: nn.Module, **inputs: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return model(**inputs).numpy()


@pytest.fixture(scope="module")
def masked(tmp_path_factory):
    """MaskedMean as a module and as a scripted file (which keeps the defaults)."""
    directory = tmp_path_factory.mktemp("masked")
    torch.manual_seed(0)
    module = MaskedMean().eval()
    path = directory / "masked_scripted.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(module), str(path))
    return module, path, directory


def test_inputs_with_defaults_given_or_left_out_match_torch(masked):
    """Module and scripted file; all inputs positionally, x and mask by name (v left out
    between them), x alone; one program for all, batch chosen at run time (1 and 3)."""
    module, path, directory = masked
    shapes = [[-1, 4, 6], [-1, 4, 6], [-1, 1, 6]]
    assert sofie_pytorch.convert(module, directory, shapes).name == "MaskedMean"
    assert sofie_pytorch.convert(path, directory, shapes).name == "masked_scripted"
    by_name = type("MaskedByName", (MaskedMean,), {})()
    by_name.load_state_dict(module.state_dict())
    sofie_pytorch.convert(by_name.eval(), directory, {"x": [-1, 4, 6], "mask": [-1, 1, 6]})
    alone = directory / "masked_alone.pt"
    alone.write_bytes(path.read_bytes())
    sofie_pytorch.convert(alone, directory, [[-1, 4, 6]])
    cases = {"MaskedMean": ("x", "v", "mask"), "masked_scripted": ("x", "v", "mask"),
             "MaskedByName": ("x", "mask"), "masked_alone": ("x",)}
    runs, sizes, expected = {}, {}, {}
    for name, given in cases.items():
        for batch in (1, 3):
            inputs = {k: v for k, v in _inputs(batch).items() if k in given}
            runs[f"{name}@{batch}"] = [t.numpy() for t in inputs.values()]
            sizes[f"{name}@{batch}"] = [batch]
            expected[f"{name}@{batch}"] = _torch(module, **inputs)
    got = compile_and_run_many(directory, runs, sizes)
    for key, want in expected.items():
        assert not isinstance(got[key], str), got[key]
        np.testing.assert_allclose(got[key][0].reshape(want.shape), want, rtol=RTOL, atol=ATOL)


def test_pyroot_parse_takes_the_defaulted_inputs(masked):
    import ROOT

    _, path, _ = masked
    model = ROOT.TMVA.Experimental.SOFIE.PyTorch.Parse(str(path), [[2, 4, 6], [2, 4, 6],
                                                                   [2, 1, 6]])
    names = [str(n) for n in model.GetInputTensorNames()]
    assert names == ["x", "v", "mask"]
    model = ROOT.TMVA.Experimental.SOFIE.PyTorch.Parse(str(path), [[2, 4, 6]])
    assert [str(n) for n in model.GetInputTensorNames()] == ["x"]
    # The C++ overload Parse(file, std::vector<std::vector<size_t>>) itself, as a macro or
    # a compiled program calls it.
    shapes = ROOT.std.vector[ROOT.std.vector["size_t"]]()
    for dims in ([2, 4, 6], [2, 4, 6], [2, 1, 6]):
        shape = ROOT.std.vector["size_t"]()
        for d in dims:
            shape.push_back(d)
        shapes.push_back(shape)
    model = _root._state["cpp_overloads"](str(path), shapes)
    assert [str(n) for n in model.GetInputTensorNames()] == ["x", "v", "mask"]


def test_reader_computes_with_the_mask(masked):
    module, _, _ = masked
    inputs = _inputs(2)
    reader = sofie_pytorch.Reader(module, example_inputs={"x": inputs["x"],
                                                          "mask": inputs["mask"]})
    got = reader.Compute(inputs["x"].numpy(), inputs["mask"].numpy())
    want = _torch(module, x=inputs["x"], mask=inputs["mask"])
    np.testing.assert_allclose(np.asarray(got).reshape(want.shape), want, rtol=RTOL, atol=ATOL)


def test_cli_shapes_give_the_defaulted_inputs(masked, tmp_path):
    from test_cli import run_here

    _, path, _ = masked
    status, out, err = run_here(["convert", str(path), "--shape", "1,4,6", "--shape", "1,4,6",
                                 "--shape", "1,1,6", "-o", str(tmp_path)])
    assert status == 0, err
    assert "mask" in out and (tmp_path / "masked_scripted.hxx").is_file()


def test_cli_shapes_by_name_leave_a_defaulted_input_out(masked, tmp_path):
    """--shape NAME=...: x and mask given, v (between them) left out; validate compiles
    the code with cling and compares it with Torch called as forward(x, mask=mask)."""
    from test_cli import run_here

    _, path, _ = masked
    named = ["--shape", "x=2,4,6", "--shape", "mask=2,1,6"]
    status, out, err = run_here(["convert", str(path), *named, "-o", str(tmp_path)])
    assert status == 0, err
    # The summary's input table: a header, a rule, then one row per input.
    rows = out.split("\ninput ")[1].split("\noutput")[0].strip().splitlines()[2:]
    assert [row.split()[0] for row in rows] == ["x", "mask"]
    status, out, err = run_here(["validate", str(path), *named])
    assert status == 0, err + out
    assert "MISMATCH" not in out and "ok" in out
    status, _, err = run_here(["convert", str(path), "--shape", "x=2,4,6", "--shape", "2,1,6",
                               "-o", str(tmp_path)])
    assert status == 1 and "name every --shape" in err


@pytest.mark.parametrize("given", [("x",), ("x", "v", "mask")])
def test_rsofiereader_with_defaulted_inputs_left_out_or_given(masked, given):
    """ROOT's RSofieReader(path, shapes): the inputs with defaults left out (v and mask
    take their defaults) or given, positionally; compared with Torch."""
    import ROOT

    module, path, _ = masked
    inputs = {k: v for k, v in _inputs(2).items() if k in given}
    shapes = ROOT.std.vector[ROOT.std.vector["size_t"]]()
    for x in inputs.values():
        shapes.push_back(ROOT.std.vector["size_t"](list(x.shape)))
    reader = ROOT.TMVA.Experimental.RSofieReader(str(path), shapes)
    assert reader.GetNInputs() == len(given)
    got = reader.Compute(*[ROOT.std.vector["float"](x.numpy().ravel().tolist())
                           for x in inputs.values()])
    want = _torch(module, **inputs)
    np.testing.assert_allclose(np.array(list(got), np.float32).reshape(want.shape), want,
                               rtol=RTOL, atol=ATOL)


def test_unknown_and_missing_input_names_are_refused(masked):
    module, _, _ = masked
    with pytest.raises(InputSpecError, match=r"no shape given for x: forward\(\) needs it"):
        sofie_pytorch.parse(module, {"mask": [1, 1, 6]})
    with pytest.raises(InputSpecError, match=r"shapes given for 'weights'.*its inputs are x, "
                                             r"v, mask"):
        sofie_pytorch.parse(module, {"x": [1, 4, 6], "weights": [1, 6]})


class Indices(nn.Module):
    """Index tensors computed from sizes only, as ParT's pair embedding builds them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.size(-1)
        i, j = torch.ones(n, n).tril().nonzero().T  # weaver's tril_indices
        k, m = torch.tril_indices(n, n, offset=-1)
        steps = torch.arange(0, n) * 2 % n
        assert x.size(1) >= 2  # a shape check: not control flow on values
        return torch.cat([x[:, :, i] * x[:, :, j], x[:, :, k] - x[:, :, m], x[:, :, steps]], -1)


def test_index_tensors_from_constants_are_folded(tmp_path):
    module = Indices().eval()
    x = torch.randn(3, 2, 5)
    result = sofie_pytorch.convert(module, tmp_path, example_inputs=x, dynamic_batch=True)
    code = result.header.read_text()
    assert "NonZero" not in code and "Trilu" not in code and "Range" not in code
    got = compile_and_run_many(tmp_path, {"Indices": [x.numpy()]}, [3])["Indices"]
    assert not isinstance(got, str), got
    want = _torch(module, x=x)
    np.testing.assert_allclose(got[0].reshape(want.shape), want, rtol=RTOL, atol=ATOL)


class Decides(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # on values: the trace would keep one branch
            return x * 2
        return x


class Outer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = Decides()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) + 1


def test_branch_on_values_names_its_line_and_module():
    with pytest.raises(TracingError, match=r"data-dependent control flow .*"
                                           r"test_optional_inputs_and_constants\.py:\d+: "
                                           r"if x\.sum\(\) > 0:.* in inner \(Decides\)"):
        sofie_pytorch.parse(Outer(), [[2, 3]])


def test_generate_error_reaches_the_user_whole():
    """cppyy shows a C++ exception as 'void SOFIE::RModel::Generate(...) =>' and the
    message on the next line, which a one-line report dropped: the package's Generate
    raises with the exception's type and whole message."""
    import ROOT

    model = sofie_pytorch.parse(nn.Linear(3, 2), [[1, 3]])
    with pytest.raises(Exception) as info:
        _root._load().Generate(model, ROOT.SOFIE.Options.kKernelOnly)
    with pytest.raises(GenerationError) as translated:
        _root._reraise(info.value)
    assert str(translated.value) == (
        "SOFIE could not generate code for model 'Linear': std::runtime_error: sofie: "
        "RModel::Generate: Options::kKernelOnly is only supported for generation with alpaka")


def test_engine_parse_error_names_the_node(tmp_path):
    module = nn.Sequential(nn.Linear(5, 3)).double()
    path = tmp_path / "dbl.pt"
    torch.jit.save(torch.jit.script(module), str(path))
    with pytest.raises(sofie_pytorch.SofiePyTorchError,
                       match=r"the engine had last started node \d+ of the graph, \S+, a \w+\)"):
        sofie_pytorch.parse(str(path), [[4, 5]], dtypes=["double"])



class MaskedRow(nn.Module):
    """One row of scalars per event and an optional mask over it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = torch.ones_like(x)
        return self.fc(x * mask)


def test_rdataframe_define_feeds_the_mask_column(tmp_path):
    import ROOT
    from sofie_pytorch import rdf

    torch.manual_seed(3)
    model = MaskedRow().eval()
    generator = np.random.default_rng(4)
    columns = {f"x{i}": generator.normal(size=20).astype(np.float32) for i in range(4)}
    columns.update({f"m{i}": (generator.random(20) > 0.3).astype(np.float32) for i in range(4)})
    df = ROOT.RDF.FromNumpy(columns)
    scored = rdf.define(df, ["a", "b"], model, [[f"x{i}" for i in range(4)],
                                                [f"m{i}" for i in range(4)]],
                        input_shapes=[[1, 4], [1, 4]], workdir=tmp_path)
    got = scored.AsNumpy(["a", "b"])
    x = torch.from_numpy(np.stack([columns[f"x{i}"] for i in range(4)], 1))
    mask = torch.from_numpy(np.stack([columns[f"m{i}"] for i in range(4)], 1))
    want = _torch(model, x=x, mask=mask)
    np.testing.assert_allclose(np.stack([got["a"], got["b"]], 1), want, rtol=RTOL, atol=ATOL)
