// The one place that knows which SOFIE engine this plugin builds on.
//
// The engine is CERN ML4EP's standalone SOFIE (namespace ::SOFIE), built from the
// `sofie` source distribution. ROOT's own SOFIE lives in TMVA::Experimental::SOFIE;
// the alias below makes that spelling name the genuine engine classes, so code and
// PyROOT scripts written for ROOT's SOFIE keep working.
#ifndef SOFIE_PYTORCH_ENGINE_H
#define SOFIE_PYTORCH_ENGINE_H

// The engine's RModel declares a defaulted move assignment that its base class deletes;
// harmless, but clang (cling, rootcling) would warn about it in every session.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdefaulted-function-deleted"
#endif
#include "SOFIE/RModel.hxx"
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

namespace TMVA {
namespace Experimental {
namespace SOFIE = ::SOFIE;
} // namespace Experimental
} // namespace TMVA

#endif
