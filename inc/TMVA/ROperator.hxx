// ROOT's header name TMVA/ROperator.hxx: the engine's SOFIE/ROperator.hxx, with its namespace reachable
// as TMVA::Experimental::SOFIE (SofiePyTorch/Engine.h), so ROOT-style includes compile.
#ifndef SOFIE_PYTORCH_ROOTNAME_ROPERATOR_HXX
#define SOFIE_PYTORCH_ROOTNAME_ROPERATOR_HXX

#include "SofiePyTorch/Engine.h"
#include "SOFIE/ROperator.hxx"

#endif
