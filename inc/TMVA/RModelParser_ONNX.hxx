// ROOT's header name TMVA/RModelParser_ONNX.hxx: the engine's SOFIE/RModelParser_ONNX.hxx, with its namespace reachable
// as TMVA::Experimental::SOFIE (SofiePyTorch/Engine.h), so ROOT-style includes compile.
#ifndef SOFIE_PYTORCH_ROOTNAME_RMODELPARSER_ONNX_HXX
#define SOFIE_PYTORCH_ROOTNAME_RMODELPARSER_ONNX_HXX

#include "SofiePyTorch/Engine.h"
#include "SOFIE/RModelParser_ONNX.hxx"

#endif
