// ROOT's header name TMVA/RModel.hxx: the engine's SOFIE/RModel.hxx, with its namespace reachable
// as TMVA::Experimental::SOFIE (SofiePyTorch/Engine.h), so ROOT-style includes compile.
#ifndef SOFIE_PYTORCH_ROOTNAME_RMODEL_HXX
#define SOFIE_PYTORCH_ROOTNAME_RMODEL_HXX

#include "SofiePyTorch/Engine.h"
#include "SOFIE/RModel.hxx"

#endif
