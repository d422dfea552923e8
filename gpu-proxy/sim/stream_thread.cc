#include "stream_thread.h"

namespace xg::sim {

Stream::Stream(uint64_t h, uint64_t ctx, unsigned f, int prio, bool is_legacy)
    : handle(h), context(ctx), flags(f), priority(prio), legacy(is_legacy) {
  worker_ = std::thread([this] { run(); });
}

Stream::~Stream() {
  shutdown();
  // Only reachable if the last reference died on the worker itself (not done by the driver): don't self-join.
  if (worker_.joinable()) worker_.detach();
}

uint64_t Stream::enqueue(Op op) {
  std::lock_guard lk(mu_);
  const uint64_t seq = ++enqueued_;
  queue_.emplace_back(seq, std::move(op));
  // Wake the worker only if it sleeps: a notify per launch capped the simulated launch rate.
  if (worker_waiting_) cv_.notify_all();
  return seq;
}

uint64_t Stream::last_enqueued() const {
  std::lock_guard lk(mu_);
  return enqueued_;
}

bool Stream::done(uint64_t seq) const {
  std::lock_guard lk(mu_);
  return completed_ >= seq;
}

void Stream::wait(uint64_t seq) const {
  std::unique_lock lk(mu_);
  ++completion_waiters_;
  cv_.wait(lk, [&] { return completed_ >= seq; });
  --completion_waiters_;
}

void Stream::shutdown() {
  {
    std::unique_lock lk(mu_);
    ++completion_waiters_;
    cv_.wait(lk, [&] { return completed_ >= enqueued_; });
    --completion_waiters_;
    stop_ = true;
    cv_.notify_all();
  }
  if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
}

void Stream::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    worker_waiting_ = true;
    cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    worker_waiting_ = false;
    if (queue_.empty()) return;  // stop_ and drained
    auto [seq, op] = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    op();
    op = nullptr;  // drop captured state before reporting completion
    lk.lock();
    completed_ = seq;
    if (completion_waiters_ > 0) cv_.notify_all();
  }
}

}  // namespace xg::sim
