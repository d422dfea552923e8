// One simulated stream: an in-order queue of operations run by its own worker thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace xg::sim {

// Operations are numbered 1, 2, 3... in enqueue order; `completed` is the number of the last one finished.
// Thread contract: enqueue/done/wait from any thread; shutdown() from an API thread (never from an operation).
class Stream {
 public:
  using Op = std::function<void()>;

  Stream(uint64_t handle, uint64_t context, unsigned flags, int priority, bool legacy);
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();

  uint64_t enqueue(Op op);          // returns the operation's number
  uint64_t last_enqueued() const;
  bool done(uint64_t seq) const;    // operation `seq` (and all before it) finished
  void wait(uint64_t seq) const;
  void sync() const { wait(last_enqueued()); }
  void shutdown();                  // drain, then stop and join the worker

  const uint64_t handle;
  const uint64_t context;
  const unsigned flags;
  const int priority;
  const bool legacy;  // the context's NULL stream

 private:
  void run();

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // one for both: the worker waiting for work, callers waiting for completion
  bool worker_waiting_ = false;          // under mu_
  mutable int completion_waiters_ = 0;   // under mu_
  std::deque<std::pair<uint64_t, Op>> queue_;
  uint64_t enqueued_ = 0;
  uint64_t completed_ = 0;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace xg::sim
