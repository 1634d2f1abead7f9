"""Scoring a dataset with a trained classifier, on 2 threads and on a local Dask cluster.

A seeded signal/background sample (two ROOT files), a small network trained in
PyTorch, converted once, then one call adds its score to RDataFrame: first locally with
ROOT.EnableImplicitMT(2), then on a Dask LocalCluster of 2 worker processes. The score
distributions of signal and background are drawn into a PNG with ROOT, as a physicist
would look at them; the scores are checked against Torch and the two runs against each
other.

    python examples/score_dataset.py [--entries N] [--keep DIR] [--png FILE]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
import ROOT  # noqa: E402
import sofie_pytorch  # noqa: E402
from sofie_pytorch import rdf  # noqa: E402

VARIABLES = ["px", "py", "pz", "e"]
TOLERANCE = (1e-5, 1e-4)  # atol, rtol
HISTO = ("h", ";classifier score;events", 40, 0.0, 1.0)


def make_sample(directory: Path, entries: int) -> list[str]:
    """Two files of events, half signal (shifted means) and half background, seeded."""
    files = []
    for i in range(2):
        ROOT.gRandom.SetSeed(100 + i)
        df = ROOT.RDataFrame(entries // 2).Define("signal", "int(gRandom->Rndm() < 0.5)")
        for k, name in enumerate(VARIABLES):
            df = df.Define(name, f"float(gRandom->Gaus(signal ? {0.8 - 0.3 * k} : 0, 1))")
        options = ROOT.RDF.RSnapshotOptions()
        options.fAutoFlush = 500
        path = directory / f"sample_{i}.root"
        df.Snapshot("events", str(path), ["signal", *VARIABLES], options)
        files.append(str(path))
    return files


def train(files: list[str]) -> nn.Module:
    """A 4-32-32-1 classifier trained on the sample itself (a few hundred steps)."""
    cols = ROOT.RDataFrame("events", files).AsNumpy(["signal", *VARIABLES])
    x = torch.from_numpy(np.stack([cols[v] for v in VARIABLES], axis=1).astype(np.float32))
    y = torch.from_numpy(cols["signal"].astype(np.float32)).unsqueeze(1)
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 1), nn.Sigmoid())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(200):
        optimizer.zero_grad()
        loss = nn.functional.binary_cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return model.eval()


def histograms(scored) -> tuple:
    """The score of signal and of background events (booked, not yet run)."""
    sig = scored.Filter("signal == 1").Histo1D(HISTO, "score")
    bkg = scored.Filter("signal == 0").Histo1D(HISTO, "score")
    return sig, bkg


def draw(sig, bkg, png: Path) -> None:
    ROOT.gROOT.SetBatch(True)
    ROOT.gStyle.SetOptStat(0)
    canvas = ROOT.TCanvas("c", "classifier score", 800, 600)
    sig.SetLineColor(ROOT.kRed + 1)
    sig.SetFillColorAlpha(ROOT.kRed + 1, 0.25)
    bkg.SetLineColor(ROOT.kBlue + 1)
    bkg.SetFillColorAlpha(ROOT.kBlue + 1, 0.25)
    top = 1.15 * max(sig.GetMaximum(), bkg.GetMaximum())
    bkg.SetMaximum(top)
    bkg.SetTitle("SOFIE classifier on RDataFrame;classifier score;events")
    bkg.Draw("HIST")
    sig.Draw("HIST SAME")
    legend = ROOT.TLegend(0.4, 0.75, 0.6, 0.88)
    legend.AddEntry(sig, "signal", "f")
    legend.AddEntry(bkg, "background", "f")
    legend.Draw()
    canvas.SaveAs(str(png))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--keep", type=Path, help="keep the files and generated code here")
    parser.add_argument("--png", type=Path, default=Path("score_distribution.png"))
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="sofie_score_example_"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        files = make_sample(directory, args.entries)
        model = train(files)
        conversion = sofie_pytorch.convert(model, directory / "model", [[1, 4]])
        print(f"1. trained a classifier on {args.entries} events and converted it once")

        ROOT.EnableImplicitMT(2)
        local = rdf.define(ROOT.RDataFrame("events", files), "score", conversion, VARIABLES)
        sig, bkg = histograms(local)
        cols = local.AsNumpy(["score", *VARIABLES])
        ROOT.DisableImplicitMT()
        print(f"2. scored {len(cols['score'])} events locally on 2 threads")

        x = np.stack([cols[v] for v in VARIABLES], axis=1).astype(np.float32)
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()[:, 0]
        diff = float(np.abs(cols["score"] - want).max())
        ok = len(want) == args.entries and bool(
            np.allclose(cols["score"], want, atol=TOLERANCE[0], rtol=TOLERANCE[1]))

        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None, silence_logs=40) as cluster, \
                Client(cluster) as client:
            df = ROOT.RDataFrame("events", files, executor=client, npartitions=4)
            dsig, dbkg = histograms(rdf.define(df, "score", conversion, VARIABLES))
            same = all(dh.GetBinContent(b) == h.GetBinContent(b)
                       for h, dh in ((sig, dsig), (bkg, dbkg)) for b in range(42))
        print(f"3. scored them again on a Dask LocalCluster of 2 worker processes: "
              f"histograms {'identical' if same else 'DIFFERENT'}")

        draw(sig.GetValue(), bkg.GetValue(), args.png)
        print(f"4. drew the signal and background score distributions into {args.png}")
        print(f"5. per entry, max |torch - sofie| = {diff:.3g} "
              f"(tolerance {TOLERANCE[0]:g} + {TOLERANCE[1]:g}*|torch|): "
              f"{'OK' if ok and same else 'MISMATCH'}")
        return 0 if ok and same else 1
    finally:
        ROOT.DisableImplicitMT()
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
