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

#include <functional>
#include <memory>
#include <mutex>
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

/// Sessions for event loops that have no slot number to index SlotSessions with, made
/// once per thread and kept for the life of the process: distributed RDataFrame runs one
/// single-threaded RDataFrame per partition on each Dask worker (rdfslot_ is 0 in every
/// one of them, and a worker with several threads runs several partitions at once), so
/// per-thread Sessions are what "built once per worker process, never shared" means
/// there. The Sessions are kept in a SlotSessions-like list, guarded only when a thread
/// makes its first one; afterwards a thread finds its own through a thread_local pointer.
template <typename Session>
class ThreadSessions {
public:
   /// The calling thread's Session, made on its first call.
   Session &Get()
   {
      // One pointer per thread and per Session type: a process keeps one ThreadSessions
      // per generated model (see ForProcess), so the type identifies the instance.
      thread_local Session *mine = nullptr;
      if (!mine) {
         auto made = fMake();
         std::lock_guard<std::mutex> lock(fMutex);
         fSessions.push_back(std::move(made));
         mine = fSessions.back().get();
      }
      return *mine;
   }

   /// How many Sessions were made so far (one per thread that scored).
   unsigned size()
   {
      std::lock_guard<std::mutex> lock(fMutex);
      return static_cast<unsigned>(fSessions.size());
   }

   /// The process-wide instance for this Session type, made on first use; `make` builds
   /// one Session (e.g. from the weight file next to a library). The only way to get one:
   /// the thread_local pointer in Get() assumes one instance per Session type.
   static ThreadSessions &ForProcess(std::function<std::unique_ptr<Session>()> make)
   {
      static ThreadSessions instance(std::move(make));
      return instance;
   }

private:
   explicit ThreadSessions(std::function<std::unique_ptr<Session>()> make) : fMake(std::move(make)) {}

   std::function<std::unique_ptr<Session>()> fMake;
   std::mutex fMutex;
   std::vector<std::unique_ptr<Session>> fSessions;
};

} // namespace PyTorch
} // namespace SOFIE

#endif
