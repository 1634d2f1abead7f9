// What the ROOT dictionary of libSofiePyTorch exposes to cling and PyROOT.
#ifdef __CLING__
#pragma link off all globals;
#pragma link off all classes;
#pragma link off all functions;
#pragma link C++ nestedclasses;

#pragma link C++ namespace SOFIE::PyTorch;
#pragma link C++ class SOFIE::PyTorch::ParseError+;
#pragma link C++ function SOFIE::PyTorch::Parse;
#pragma link C++ function SOFIE::PyTorch::ParsePython;
#pragma link C++ function SOFIE::PyTorch::SupportedOnnxOperators;
#pragma link C++ function SOFIE::PyTorch::Generate;
#pragma link C++ function SOFIE::PyTorch::WriteGenerated;
#pragma link C++ function SOFIE::PyTorch::BindBlasForCling;
#pragma link C++ class SOFIE::PyTorch::Reader-;
// ROOT's user API, and the engine's classes that ROOT-style macros name before anything
// is loaded (SOFIE::RModel model = ...): listed here, they get forward declarations in
// the rootmap, and naming them autoloads the plugin.
#pragma link C++ class TMVA::Experimental::RSofieReader-;
#pragma link C++ class SOFIE::RModel-;
#pragma link C++ class SOFIE::RModelParser_ONNX-;
#endif
