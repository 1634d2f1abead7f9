// ROOT's header name TMVA/RModel_Base.hxx: the engine's SOFIE/RModel_Base.hxx, with its namespace reachable
// as TMVA::Experimental::SOFIE (SofiePyTorch/Engine.h), so ROOT-style includes compile.
#ifndef SOFIE_PYTORCH_ROOTNAME_RMODEL_BASE_HXX
#define SOFIE_PYTORCH_ROOTNAME_RMODEL_BASE_HXX

#include "SofiePyTorch/Engine.h"
#include "SOFIE/RModel_Base.hxx"

#endif
