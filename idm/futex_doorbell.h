// The shm transport's doorbell: a futex on a word in memory shared between two processes (so not
// FUTEX_PRIVATE), plus a socket whose hang-up tells that the peer is gone.
#pragma once

#include "idm/doorbell.h"
#include "idm/unique_fd.h"

namespace xg::idm {

class FutexDoorbell final : public Doorbell {
 public:
  // `liveness` is a connected stream socket to the peer (or -1: the peer is assumed alive).
  explicit FutexDoorbell(UniqueFd liveness = {}) : liveness_(std::move(liveness)) {}
  void notify(std::atomic<uint32_t>& word) noexcept override;
  void wait(std::atomic<uint32_t>& word, uint32_t seen, std::chrono::microseconds timeout) noexcept override;
  [[nodiscard]] bool peer_alive() noexcept override;
  // Bumps `word` (a waiter that has not slept yet then returns at once) and wakes whoever sleeps on it.
  void interrupt(std::atomic<uint32_t>& word) noexcept override;
  [[nodiscard]] int liveness_fd() const noexcept { return liveness_.get(); }

 private:
  UniqueFd liveness_;
  bool dead_ = false;
};

// Raw futex helpers, also used by the bare ping-pong baseline in idm-bench.
void futex_wake_shared(std::atomic<uint32_t>& word) noexcept;
void futex_wait_shared(std::atomic<uint32_t>& word, uint32_t seen, std::chrono::microseconds timeout) noexcept;

}  // namespace xg::idm
