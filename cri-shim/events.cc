#include "cri-shim/events.h"

#include <google/protobuf/any.pb.h>

#include <cstdio>

#include "cri-shim/spawn.h"

namespace xg::shim {

EventPublisher::EventPublisher(std::string publish_binary, std::string containerd_address, std::string ns)
    : binary_(std::move(publish_binary)), address_(std::move(containerd_address)), ns_(std::move(ns)),
      thread_([this] { loop(); }) {}

EventPublisher::~EventPublisher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void EventPublisher::publish(const std::string& topic, const google::protobuf::Message& event) {
  google::protobuf::Any any;
  any.set_type_url(event.GetDescriptor()->full_name());
  any.set_value(event.SerializeAsString());
  {
    std::lock_guard lock(mu_);
    queue_.emplace_back(topic, any.SerializeAsString());
  }
  cv_.notify_all();
}

void EventPublisher::flush() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void EventPublisher::loop() {
  for (;;) {
    std::pair<std::string, std::string> item;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      item = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    if (!binary_.empty()) {
      // containerd retries nothing for us: try a few times, then log (an event lost is logged, never faked).
      for (int attempt = 0; attempt < 3; ++attempt) {
        const RunResult r = run_captured(
            {binary_, "--address", address_, "publish", "--topic", item.first, "--namespace", ns_}, item.second);
        if (r.status == 0) break;
        std::fprintf(stderr, "xen-gpu shim: publishing %s failed (try %d): %s\n", item.first.c_str(), attempt + 1,
                     r.output.c_str());
      }
    }
    {
      std::lock_guard lock(mu_);
      busy_ = false;
    }
    cv_.notify_all();
  }
}

}  // namespace xg::shim
