// Generate the inference code of the trained 7-input classifier, as ROOT's
// TMVA_SOFIE_Keras_HiggsModel.C does for its Keras model, before TMVA_SOFIE_RDataFrame.C.
//
//   root -l -b -q TMVA_SOFIE_PyTorch_HiggsModel.C

using namespace TMVA::Experimental;

void TMVA_SOFIE_PyTorch_HiggsModel()
{
   SOFIE::RModel model = SOFIE::PyTorch::Parse("Higgs_trained_model.pt", {{1, 7}});
   model.Generate();
   // Higgs_trained_model.hxx (namespace SOFIE_Higgs_trained_model, also reachable as
   // TMVA_SOFIE_Higgs_trained_model, ROOT's name) and Higgs_trained_model.dat
   model.OutputGenerated("Higgs_trained_model.hxx");
   model.PrintOutputTensors();
}
