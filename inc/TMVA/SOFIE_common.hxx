// ROOT's header name TMVA/SOFIE_common.hxx: the engine's SOFIE/SOFIE_common.hxx, with its namespace reachable
// as TMVA::Experimental::SOFIE (SofiePyTorch/Engine.h), so ROOT-style includes compile.
#ifndef SOFIE_PYTORCH_ROOTNAME_SOFIE_COMMON_HXX
#define SOFIE_PYTORCH_ROOTNAME_SOFIE_COMMON_HXX

#include "SofiePyTorch/Engine.h"
#include "SOFIE/SOFIE_common.hxx"

#endif
