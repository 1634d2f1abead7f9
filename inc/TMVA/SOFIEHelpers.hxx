// ROOT's SofieFunctor for RDataFrame::DefineSlot, on this project's SlotSessions:
//
//   #include "model.hxx"                     // generated code, namespace TMVA_SOFIE_model
//   #include "TMVA/SOFIEHelpers.hxx"
//   using namespace TMVA::Experimental;
//   df.DefineSlot("y", SofieFunctor<7, TMVA_SOFIE_model::Session>(df.GetNSlots()), columns);
//
// One Session per slot, made up front (SOFIE::PyTorch::SlotSessions), no lock; the
// event's N values go to the model through a buffer on the stack; returns the first
// value of the first output, as ROOT's does.
//
// The engine ships a global ::SofieFunctor of its own (SOFIE/SOFIEHelpers.hxx). This one
// takes the slot count as any integer type, so where both are visible (a macro with
// `using namespace TMVA::Experimental;` that includes both headers) a call with an int,
// as ROOT's tutorials write it, picks this one without ambiguity; with an unsigned count
// the engine's, which computes the same.
#ifndef TMVA_SOFIE_PYTORCH_SOFIEHELPERS_HXX
#define TMVA_SOFIE_PYTORCH_SOFIEHELPERS_HXX

#include "SofiePyTorch/SlotSessions.hxx"

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace TMVA {
namespace Experimental {

namespace Internal {

inline double SofieFirstValue(const std::vector<float> &y)
{
   return y.at(0);
}
template <typename Outputs>
double SofieFirstValue(const Outputs &y) // several outputs: the first one's first value
{
   return SofieFirstValue(y.at(0));
}

} // namespace Internal

/// The callable SofieFunctor returns. Copies share the Sessions.
template <typename I, typename Session, typename T>
class SofieFunctorHelper;

template <std::size_t... Idx, typename Session, typename T>
class SofieFunctorHelper<std::index_sequence<Idx...>, Session, T> {
   template <std::size_t>
   using AlwaysT = T;
   std::shared_ptr<SOFIE::PyTorch::SlotSessions<Session>> fSessions;

public:
   template <typename... SessionArgs>
   explicit SofieFunctorHelper(unsigned nSlots, const SessionArgs &...args)
      : fSessions(std::make_shared<SOFIE::PyTorch::SlotSessions<Session>>(nSlots, args...))
   {
   }

   double operator()(unsigned slot, AlwaysT<Idx>... args)
   {
      const std::array<float, sizeof...(Idx)> x{{static_cast<float>(args)...}};
      return Internal::SofieFirstValue((*fSessions)[slot].infer(x.data()));
   }

   /// The Sessions, one per slot.
   SOFIE::PyTorch::SlotSessions<Session> &Sessions() { return *fSessions; }
};

/// A DefineSlot callable that runs the generated Session of N float inputs, one Session
/// per slot (nslots: df.GetNSlots(); 0 makes one). weightFile: the .dat file written
/// with the header, when the Session's default (the header's name, in the current
/// directory) is not where it is.
template <std::size_t N, typename Session, typename Int = unsigned,
          typename = std::enable_if_t<std::is_integral<Int>::value>>
SofieFunctorHelper<std::make_index_sequence<N>, Session, float> SofieFunctor(Int nslots = 0,
                                                                             const std::string &weightFile = "")
{
   const unsigned n = nslots > 0 ? static_cast<unsigned>(nslots) : 1u;
   if (weightFile.empty())
      return SofieFunctorHelper<std::make_index_sequence<N>, Session, float>(n);
   return SofieFunctorHelper<std::make_index_sequence<N>, Session, float>(n, weightFile);
}

} // namespace Experimental
} // namespace TMVA

#endif
