// In the style of ROOT's tutorial TMVA_SOFIE_ONNX.C: parse an ONNX file (here the
// classifier exported from PyTorch) with the engine's ONNX parser, generate its code.
// Unlike ROOT's, it includes the headers by ROOT's names, first the engine's own header
// (which must not collide with the plugin's dictionary), after loading the plugin.
//
//   root -l -b -q TMVA_SOFIE_ONNX.C

R__LOAD_LIBRARY(libSofiePyTorch)
#include "SOFIE/RModel.hxx"
#include "TMVA/RModel.hxx"
#include "TMVA/RModel_Base.hxx"
#include "TMVA/ROperator.hxx"
#include "TMVA/SOFIE_common.hxx"
#include "TMVA/RTensor.hxx"
#include "TMVA/RModelParser_ONNX.hxx"
#include "TMVA/RModelParser_PyTorch.h"
#include "TMVA/RSofieReader.hxx"
#include "TMVA/SOFIEHelpers.hxx"

using namespace TMVA::Experimental;

void TMVA_SOFIE_ONNX()
{
   SOFIE::RModelParser_ONNX parser;
   SOFIE::RModel model = parser.Parse("Higgs_trained_model.onnx");
   model.Generate();
   model.OutputGenerated("Higgs_trained_model_onnx.hxx");
   model.PrintOutputTensors();
   RTensor<float> tensor({2, 7});
   std::cout << "RTensor of " << tensor.GetSize() << " values" << std::endl;
}
