#include "idm/futex_doorbell.h"

#include <linux/futex.h>
#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace xg::idm {

void futex_wake_shared(std::atomic<uint32_t>& word) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

void futex_wait_shared(std::atomic<uint32_t>& word, uint32_t seen, std::chrono::microseconds timeout) noexcept {
  const auto us = timeout.count();
  timespec ts{static_cast<time_t>(us / 1'000'000), static_cast<long>((us % 1'000'000) * 1000)};
  // EAGAIN (word already changed), EINTR and ETIMEDOUT all mean "go and re-check": the caller loops.
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT, seen, &ts, nullptr, 0);
}

void FutexDoorbell::notify(std::atomic<uint32_t>& word) noexcept { futex_wake_shared(word); }

void FutexDoorbell::wait(std::atomic<uint32_t>& word, uint32_t seen, std::chrono::microseconds timeout) noexcept {
  futex_wait_shared(word, seen, timeout);
}

void FutexDoorbell::interrupt(std::atomic<uint32_t>& word) noexcept {
  word.fetch_add(1, std::memory_order_release);
  futex_wake_shared(word);  // the ring's one consumer is the only thread that sleeps on its data bell
}

bool FutexDoorbell::peer_alive() noexcept {
  if (dead_) return false;
  if (!liveness_.valid()) return true;
  pollfd p{liveness_.get(), POLLRDHUP, 0};
  int n = ::poll(&p, 1, 0);
  if (n > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL))) dead_ = true;
  return !dead_;
}

SpinPolicy SpinPolicy::from_env() noexcept {
  SpinPolicy p;
  if (const char* s = std::getenv("XG_IDM_SPIN_US")) {
    char* end = nullptr;
    long v = std::strtol(s, &end, 10);
    if (end != s && v >= 0 && v <= 1'000'000) p.spin = std::chrono::microseconds(v);
  }
  return p;
}

}  // namespace xg::idm
