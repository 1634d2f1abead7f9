// In the style of ROOT's tutorial TMVA_SOFIE_RSofieReader.C, with a model trained in
// PyTorch: RSofieReader parses, generates and compiles it in this process; evaluate one
// event, then score two trees with RDataFrame::Define and Compute<7, float>.
//
//   root -l -b -q TMVA_SOFIE_RSofieReader.C
//
// Besides ROOT's flow, it runs the event loop on 2 threads (RSofieReader::Compute runs
// in parallel, one Session per thread), checks the bad inputs, saves the canvas as PNG
// and every event's score in scores_rsofiereader.root, which the test compares with
// Torch (scores_TMVA_SOFIE_RSofieReader.root).

#include "SaveForTheTest.h"

using namespace TMVA::Experimental;

void TMVA_SOFIE_RSofieReader()
{
   RSofieReader model("Higgs_trained_model.pt", {{1, 7}});

   // the input shape for this model is a tensor with shape (1,7)
   std::vector<float> input = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7};

   // predict model on a single event (takes a std::vector<float>)
   auto output = model.Compute(input);
   std::cout << "Event prediction = " << output[0] << std::endl;

   // bad input: a clear exception, and nothing read past the end of the vector
   std::vector<std::function<void()>> badCalls{[&] { model.Compute(std::vector<float>{0.1, 0.2, 0.3}); },
                                               [&] { model.Compute(input, input); }};
   for (auto &call : badCalls) {
      try {
         call();
      } catch (const std::runtime_error &e) {
         std::cout << "caught: " << e.what() << std::endl;
      }
   }

   ROOT::EnableImplicitMT(2);
   std::string inputFile = "Higgs_data.root";

   ROOT::RDataFrame df1("sig_tree", inputFile);
   auto sig = df1.Define("DNN_Values", Compute<7, float>(model),
                         {"m_jj", "m_jjj", "m_lv", "m_jlv", "m_bb", "m_wbb", "m_wwbb"})
                 .Define("y", "DNN_Values[0]")
                 .Define("entry", "rdfentry_");
   auto h1 = sig.Histo1D({"h_sig", "", 100, 0, 1}, "y");

   ROOT::RDataFrame df2("bkg_tree", inputFile);
   auto bkg = df2.Define("DNN_Values", Compute<7, float>(model),
                         {"m_jj", "m_jjj", "m_lv", "m_jlv", "m_bb", "m_wbb", "m_wwbb"})
                 .Define("y", "DNN_Values[0]")
                 .Define("entry", "rdfentry_");
   auto h2 = bkg.Histo1D({"h_bkg", "", 100, 0, 1}, "y");

   // ROOT's drawing, then the PNG and the scores for the test
   DrawAndSave(h1, h2, sig, bkg, "y", "TMVA_SOFIE_RSofieReader");
   std::cout << "Sessions made: " << model.GetReader().SessionCount() << std::endl;
}
