// ROOT's names for generated code: ROOT's SOFIE writes `namespace TMVA_SOFIE_<model>`,
// the engine `namespace SOFIE_<model>`; code written for either must compile.
#ifndef SOFIE_PYTORCH_ROOTNAMES_HXX
#define SOFIE_PYTORCH_ROOTNAMES_HXX

#include "SofiePyTorch/Engine.h"

namespace SOFIE {
namespace PyTorch {
namespace detail {

/// Make the code that model.Generate() writes declare TMVA_SOFIE_<name> as another name
/// of SOFIE_<name>, for the model's current name. Works with the engine's own
/// OutputGenerated too. Does nothing for a name that is not a plain identifier.
void AddRootNamespaceAlias(RModel &model);

} // namespace detail
} // namespace PyTorch
} // namespace SOFIE

#endif
