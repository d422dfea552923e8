// Task events for containerd (/tasks/create, /tasks/start, /tasks/exit, ...), published as containerd 1.6's own
// shims may: by running the `-publish-binary` containerd gave us as `publish --topic T --namespace NS` with the
// event, Any-encoded, on stdin. One thread publishes them in the order they happened (containerd must see a
// task's exit before its delete).
#pragma once

#include <google/protobuf/message.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace xg::shim {

class EventPublisher {
 public:
  EventPublisher(std::string publish_binary, std::string containerd_address, std::string ns);
  ~EventPublisher();
  EventPublisher(const EventPublisher&) = delete;
  EventPublisher& operator=(const EventPublisher&) = delete;
  // Queues `event` under `topic`; its Any type URL is the message's full name (containerd's typeurl).
  void publish(const std::string& topic, const google::protobuf::Message& event);
  // Waits until every queued event was handed to containerd (before the shim exits).
  void flush();

 private:
  void loop();
  std::string binary_, address_, ns_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> queue_;  // (topic, Any bytes)
  bool busy_ = false, stop_ = false;
  std::thread thread_;
};

}  // namespace xg::shim
