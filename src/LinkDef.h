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
#pragma link C++ function SOFIE::PyTorch::WriteGenerated;
#pragma link C++ function SOFIE::PyTorch::BindBlasForCling;
#pragma link C++ class SOFIE::PyTorch::Reader-;
#endif
