// A Xen-mode process's stdio on the FIFOs containerd made for it. The process runs in the zone, so nothing is
// handed to it: its output arrives as the zone's output events (ZoneControl's poller) and is written here, and
// its input is read here from the stdin FIFO by a thread and sent with CtlStdin. As in container_io.h, stdout and
// stderr are opened read-write (never blocks, whatever containerd's reader does) and closed when the process has
// exited (after all its output: the zone sends the exit last), so containerd then reads EOF.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "idm/unique_fd.h"

namespace xg::shim {

class ZoneIo {
 public:
  // Sends input to the process; `close` ends it. False: the process or the channel is gone (feeding stops).
  using StdinSink = std::function<bool(std::span<const std::byte> bytes, bool close)>;

  ~ZoneIo();
  ZoneIo(const ZoneIo&) = delete;
  ZoneIo& operator=(const ZoneIo&) = delete;
  // Opens the FIFOs (empty path: nothing); nullptr with `error` if one cannot be opened.
  [[nodiscard]] static std::unique_ptr<ZoneIo> open(const std::string& stdin_path, const std::string& stdout_path,
                                                    const std::string& stderr_path, std::string& error);
  [[nodiscard]] bool has_stdin() const { return stdin_fifo_.valid(); }
  // Once the process runs: starts the thread that reads the stdin FIFO into `sink`.
  void start_stdin(StdinSink sink);
  // CloseIO: the process's stdin ends now (the thread sends the close and stops).
  void close_stdin();
  // One output event (stream 1 stdout, 2 stderr). A reader that takes nothing for `limit` loses the rest of
  // this event (logged): one pod's stalled reader must not stop the zone's other output.
  void write(int stream, std::span<const std::byte> bytes,
             std::chrono::milliseconds limit = std::chrono::milliseconds(5'000));
  // The process has exited: containerd's readers get EOF (no writer is left once we close ours).
  void close_output();

 private:
  ZoneIo() = default;
  void feed(StdinSink sink);
  idm::UniqueFd stdin_fifo_;
  std::mutex out_mu_;  // the poller writes output; an exit (or the pod's end) closes it
  idm::UniqueFd out_, err_;
  idm::UniqueFd wake_read_, wake_write_;
  std::thread feeder_;
};

}  // namespace xg::shim
