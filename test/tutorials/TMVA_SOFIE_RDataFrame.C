// In the style of ROOT's tutorial TMVA_SOFIE_RDataFrame.C: score two trees with the
// generated code through SofieFunctor and DefineSlot, multithreaded, one Session per
// slot, and draw the signal and background scores. Run TMVA_SOFIE_PyTorch_HiggsModel.C
// first (it writes Higgs_trained_model.hxx and .dat).
//
//   root -l -b -q TMVA_SOFIE_RDataFrame.C
//
// Besides ROOT's flow, it saves the canvas as PNG and every event's score (with its entry
// number) in scores_TMVA_SOFIE_RDataFrame.root, which the test compares with Torch.

using namespace TMVA::Experimental;

R__ADD_INCLUDE_PATH($PWD)
#include "Higgs_trained_model.hxx"
#include "TMVA/SOFIEHelpers.hxx"

#include "SaveForTheTest.h"

using namespace TMVA::Experimental;

void TMVA_SOFIE_RDataFrame(int nthreads = 2)
{
   std::string inputFile = "Higgs_data.root";
   std::vector<std::string> columns{"m_jj", "m_jjj", "m_lv", "m_jlv", "m_bb", "m_wbb", "m_wwbb"};

   ROOT::EnableImplicitMT(nthreads);

   ROOT::RDataFrame df1("sig_tree", inputFile);
   int nslots = df1.GetNSlots();
   std::cout << "Running using " << nslots << " threads" << std::endl;
   auto sig = df1.DefineSlot("DNN_Value", SofieFunctor<7, TMVA_SOFIE_Higgs_trained_model::Session>(nslots), columns)
                 .Define("entry", "rdfentry_");
   auto h1 = sig.Histo1D({"h_sig", "", 100, 0, 1}, "DNN_Value");

   ROOT::RDataFrame df2("bkg_tree", inputFile);
   nslots = df2.GetNSlots();
   auto bkg = df2.DefineSlot("DNN_Value", SofieFunctor<7, TMVA_SOFIE_Higgs_trained_model::Session>(nslots), columns)
                 .Define("entry", "rdfentry_");
   auto h2 = bkg.Histo1D({"h_bkg", "", 100, 0, 1}, "DNN_Value");

   // ROOT's drawing, then the PNG and the scores for the test
   DrawAndSave(h1, h2, sig, bkg, "DNN_Value", "TMVA_SOFIE_RDataFrame");
   std::cout << "signal mean " << h1->GetMean() << ", background mean " << h2->GetMean() << std::endl;
}
