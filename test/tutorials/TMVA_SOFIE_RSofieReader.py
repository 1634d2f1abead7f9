"""In the style of ROOT's tutorial TMVA_SOFIE_RSofieReader.C, from PyROOT: RSofieReader
on the trained PyTorch classifier, one event, a batch as an RTensor, then the bad inputs,
each of which must raise a Python exception with a clear message.

Then the same classifier exported to ONNX, read with the engine's ONNX parser, and saved
with torch.export (.pt2).

Writes reader_py.npz: the single-event output, the batch scores of the signal tree.
"""

from __future__ import annotations

import numpy as np
import ROOT

columns = ["m_jj", "m_jjj", "m_lv", "m_jlv", "m_bb", "m_wbb", "m_wwbb"]


def shapes(*dims: list[int]) -> object:
    """vector<vector<size_t>>, built explicitly: PyROOT converts nested lists unreliably."""
    result = ROOT.std.vector[ROOT.std.vector["size_t"]]()
    for shape in dims:
        result.push_back(ROOT.std.vector["size_t"](shape))
    return result


Reader = ROOT.TMVA.Experimental.RSofieReader
model = Reader("Higgs_trained_model.pt", shapes([1, 7]))

event = ROOT.std.vector["float"]([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
output = model.Compute(event)
print("Event prediction =", output[0])

# A batch: {nevents, 7} in, {nevents, 1} out.
data = ROOT.RDataFrame("sig_tree", "Higgs_data.root").AsNumpy(columns)
x = np.ascontiguousarray(np.stack([data[c] for c in columns], axis=1), dtype=np.float32)
size_t_vector = ROOT.std.vector["size_t"]
Tensor = ROOT.TMVA.Experimental.RTensor["float"]
tensor = Tensor(x.ravel(), size_t_vector([x.shape[0], 7]))
y = model.Compute(tensor)
shape = list(y.GetShape())
values = [y.GetData()[i] for i in range(shape[0] * shape[1])]
batch = np.array(values, dtype=np.float32).reshape(shape)
np.savez("reader_py.npz", event=np.array(list(output), dtype=np.float32), batch=batch)
print("batch shape", shape)

# The same classifier from ONNX, through the engine's own parser, and from torch.export
# (verbose: what it parsed is printed).
onnx_model = Reader("Higgs_trained_model.onnx")
print("ONNX prediction =", onnx_model.Compute(event)[0])
# the open batch size fixed to 3, as ROOT's reader takes it: the first dimension given
three = ROOT.std.vector["float"]([0.1 * (i + 1) + 0.05 * e for e in range(3) for i in range(7)])
onnx_batch = Reader("Higgs_trained_model.onnx", shapes([3, 7]))
print("ONNX batch of 3 =", " ".join(str(v) for v in onnx_batch.Compute(three)))
pt2_model = Reader("Higgs_trained_model.pt2", shapes([1, 7]), 1)
print("PT2 prediction =", pt2_model.Compute(event)[0])

bad = {
    "short vector": lambda: model.Compute(ROOT.std.vector["float"]([0.1, 0.2, 0.3])),
    "long vector": lambda: model.Compute(ROOT.std.vector["float"]([0.5] * 100)),
    "two inputs": lambda: model.Compute(event, event),
    "missing file": lambda: Reader("no_such_model.pt", shapes([1, 7])),
    "unknown extension": lambda: Reader("Higgs_data.root", shapes([1, 7])),
    "pt without shapes": lambda: Reader("Higgs_trained_model.pt"),
    "wrong batch width": lambda: model.Compute(Tensor(size_t_vector([2, 3]))),
    "nothing loaded": lambda: Reader().Compute(event),
}
for name, call in bad.items():
    try:
        call()
        print(f"NO ERROR for {name}")
    except Exception as exc:  # noqa: BLE001  (the test checks type and message)
        print(f"{name}: {type(exc).__name__}: {exc}")
print("still works:", model.Compute(event)[0] == output[0])
