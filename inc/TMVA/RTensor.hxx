// ROOT's header name for the tensor class: the engine's SOFIE::RTensor, reachable as
// TMVA::Experimental::RTensor as in ROOT (RSofieReader's batch Compute takes and returns
// one).
#ifndef TMVA_SOFIE_PYTORCH_RTENSOR_HXX
#define TMVA_SOFIE_PYTORCH_RTENSOR_HXX

#include "SofiePyTorch/Engine.h"
#include "SOFIE/RTensor.hxx"

namespace TMVA {
namespace Experimental {
using ::SOFIE::MemoryLayout;
using ::SOFIE::RTensor;
} // namespace Experimental
} // namespace TMVA

#endif
