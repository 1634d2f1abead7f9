"""In the style of ROOT's tutorial TMVA_SOFIE_RDataFrame.py: the generated code of the
trained classifier, JIT-compiled by ROOT, scores two trees through SofieFunctor with one
Session per slot, multithreaded. Run after TMVA_SOFIE_PyTorch_HiggsModel.C.

Writes TMVA_SOFIE_RDataFrame_py.png and scores_rdataframe_py.root (entry, DNN_Value).
"""

from __future__ import annotations

import ROOT

ROOT.gSystem.Load("libSofiePyTorch")  # its include path makes TMVA/SOFIEHelpers.hxx visible
ROOT.gInterpreter.Declare('#include "Higgs_trained_model.hxx"')
ROOT.gInterpreter.Declare('#include "TMVA/SOFIEHelpers.hxx"')

ROOT.EnableImplicitMT(2)
columns = ["m_jj", "m_jjj", "m_lv", "m_jlv", "m_bb", "m_wbb", "m_wwbb"]
nslots = ROOT.RDataFrame("sig_tree", "Higgs_data.root").GetNSlots()
print("Running using", nslots, "threads")
# One functor per tree, as ROOT's Python tutorial declares them for the interpreter.
functor = f"TMVA::Experimental::SofieFunctor<7, TMVA_SOFIE_Higgs_trained_model::Session>({nslots})"
for kind in ("sig", "bkg"):
    ROOT.gInterpreter.Declare(f"auto sofie_functor_{kind} = {functor};")

histograms = {}
frames = {}
for kind in ("sig", "bkg"):
    df = ROOT.RDataFrame(f"{kind}_tree", "Higgs_data.root")
    call = f"sofie_functor_{kind}(rdfslot_, {', '.join(columns)})"
    frames[kind] = df.Define("DNN_Value", call).Define("entry", "rdfentry_")
    histograms[kind] = frames[kind].Histo1D((f"h_{kind}", "", 100, 0, 1), "DNN_Value")

histograms["sig"].SetLineColor(ROOT.kRed)
histograms["bkg"].SetLineColor(ROOT.kBlue)
canvas = ROOT.TCanvas()
ROOT.gStyle.SetOptStat(0)
histograms["bkg"].DrawClone()
histograms["sig"].DrawClone("SAME")
canvas.BuildLegend()
canvas.SaveAs("TMVA_SOFIE_RDataFrame_py.png")

options = ROOT.RDF.RSnapshotOptions()
for kind in ("sig", "bkg"):
    frames[kind].Snapshot(f"{kind}_scores", "scores_rdataframe_py.root", ["entry", "DNN_Value"],
                          options)
    options.fMode = "UPDATE"
