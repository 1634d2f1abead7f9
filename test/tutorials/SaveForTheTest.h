// What the tutorial-style macros leave behind for the test, after ROOT's flow: the
// signal and background histograms drawn on one canvas and saved as <name>.png, and
// every event's score with its entry number (multithreaded event loops reorder entries)
// in scores_<name>.root.
#include <string>

template <typename Histo, typename SigFrame, typename BkgFrame>
void DrawAndSave(Histo &h1, Histo &h2, SigFrame &sig, BkgFrame &bkg, const std::string &column,
                 const std::string &name)
{
   h1->SetLineColor(kRed);
   h2->SetLineColor(kBlue);

   auto c1 = new TCanvas();
   gStyle->SetOptStat(0);

   h2->DrawClone();
   h1->DrawClone("SAME");
   c1->BuildLegend();
   c1->SaveAs((name + ".png").c_str());

   ROOT::RDF::RSnapshotOptions update;
   update.fMode = "UPDATE";
   sig.Snapshot("sig_scores", "scores_" + name + ".root", {"entry", column});
   bkg.Snapshot("bkg_scores", "scores_" + name + ".root", {"entry", column}, update);
}
