// One generated Session per processing slot: the machinery shared by every way this
// project scores events (RDataFrame from Python, the `score` command, SofieFunctor in
// C++ macros and programs).
//
// A generated Session owns its intermediate buffers, so two threads must never share
// one; RDataFrame guarantees that a slot is used by one thread at a time, so one Session
// per slot needs no lock at all (ROOT's RSofieReader took a global write lock for every
// event instead). The Sessions are made up front, once: constructing one reads the
// weight file, which must not happen per event or per partition.
//
// C++17 and header-only: cling reads it, and so do programs compiled by users.
#ifndef SOFIE_PYTORCH_SLOTSESSIONS_HXX
#define SOFIE_PYTORCH_SLOTSESSIONS_HXX

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace SOFIE {
namespace PyTorch {

template <typename Session>
class SlotSessions {
public:
   /// Makes max(nSlots, 1) Sessions, each constructed from the same arguments (none, a
   /// weight file, or a weight file and a run-time batch size: whatever the generated
   /// Session's constructor takes).
   template <typename... SessionArgs>
   explicit SlotSessions(unsigned nSlots, const SessionArgs &...args)
   {
      const unsigned n = nSlots > 0 ? nSlots : 1;
      fSessions.reserve(n);
      // Held by pointer: generated Sessions are neither copyable nor guaranteed movable.
      for (unsigned i = 0; i < n; ++i)
         fSessions.push_back(std::make_unique<Session>(args...));
   }

   Session &operator[](unsigned slot)
   {
      if (slot >= fSessions.size())
         throw std::out_of_range("SOFIE::PyTorch::SlotSessions: slot " + std::to_string(slot) +
                                 " used, but only " + std::to_string(fSessions.size()) +
                                 " Sessions were made (pass the number of RDataFrame slots, "
                                 "ROOT::GetThreadPoolSize() or df.GetNSlots())");
      return *fSessions[slot];
   }

   unsigned size() const { return static_cast<unsigned>(fSessions.size()); }

private:
   std::vector<std::unique_ptr<Session>> fSessions;
};

} // namespace PyTorch
} // namespace SOFIE

#endif
