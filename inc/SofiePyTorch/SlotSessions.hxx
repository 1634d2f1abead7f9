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

#include <algorithm>
#include <atomic>
#include <cstdint>
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


/// One Session per thread, for callers that have no slot number: RSofieReader::Compute
/// (RDataFrame::Define calls it from every worker thread) and plain std::threads.
///
/// A thread's first call takes an idle Session from the pool (or makes one); later calls
/// find it in a thread-local table without any lock. When the thread ends, its Sessions
/// go back to their pools for the next new thread, so there are never more Sessions than
/// threads that ran at the same time. The pool's mutex is taken only on those two events,
/// never per call.
template <typename Session>
class ThreadSessions {
public:
   /// Sessions are made on demand, each constructed from these arguments (copied and kept).
   template <typename... SessionArgs>
   explicit ThreadSessions(const SessionArgs &...args)
      : fPool(std::make_shared<Pool>([args...]() { return std::make_unique<Session>(args...); })),
        fId(NextId())
   {
      fPool->Release(fPool->Acquire()); // the first one now: a bad weight file fails here
   }

   /// Sessions made by `make` instead, for callers that wrap the construction (to name the
   /// weight file in an error, to set BLAS options first). Distributed scoring keeps one of
   /// these per process in a function-local static, so each worker builds its Sessions once.
   static ThreadSessions WithMaker(std::function<std::unique_ptr<Session>()> make)
   {
      return ThreadSessions(std::make_shared<Pool>(std::move(make)));
   }

   /// The calling thread's own Session.
   Session &Local()
   {
      auto &entries = ThreadTable().entries;
      for (const auto &entry : entries)
         if (entry.id == fId)
            return *entry.session;
      // Forget the pools that are gone, so that the table stays as short as the live ones.
      entries.erase(std::remove_if(entries.begin(), entries.end(), [](const Entry &e) { return e.pool.expired(); }),
                    entries.end());
      Session *session = fPool->Acquire();
      entries.push_back(Entry{fId, fPool, session});
      return *session;
   }

   /// How many Sessions were made so far (at most the number of concurrent threads).
   size_t size() const { return fPool->Size(); }

private:
   struct Pool;
   explicit ThreadSessions(std::shared_ptr<Pool> pool) : fPool(std::move(pool)), fId(NextId())
   {
      fPool->Release(fPool->Acquire());
   }

   struct Pool {
      explicit Pool(std::function<std::unique_ptr<Session>()> make) : fMake(std::move(make)) {}
      Session *Acquire()
      {
         std::lock_guard<std::mutex> lock(fMutex);
         if (!fIdle.empty()) {
            Session *session = fIdle.back();
            fIdle.pop_back();
            return session;
         }
         fAll.push_back(fMake());
         return fAll.back().get();
      }
      void Release(Session *session)
      {
         std::lock_guard<std::mutex> lock(fMutex);
         fIdle.push_back(session);
      }
      size_t Size()
      {
         std::lock_guard<std::mutex> lock(fMutex);
         return fAll.size();
      }
      std::mutex fMutex;
      std::function<std::unique_ptr<Session>()> fMake;
      std::vector<std::unique_ptr<Session>> fAll;
      std::vector<Session *> fIdle;
   };
   // Keyed by a number never reused (not by address): a new object at the address of a
   // destroyed one must not find the old one's Session.
   struct Entry {
      std::uint64_t id;
      std::weak_ptr<Pool> pool;
      Session *session;
   };
   struct Table {
      std::vector<Entry> entries;
      ~Table()
      {
         for (auto &entry : entries)
            if (auto pool = entry.pool.lock())
               pool->Release(entry.session);
      }
   };
   static Table &ThreadTable()
   {
      thread_local Table table;
      return table;
   }
   static std::uint64_t NextId()
   {
      static std::atomic<std::uint64_t> next{0};
      return ++next;
   }

   std::shared_ptr<Pool> fPool;
   std::uint64_t fId;
};

} // namespace PyTorch
} // namespace SOFIE

#endif
