// A process's stdio, wired to the FIFOs containerd made for it. stdout and stderr: the FIFO itself is handed
// to the process (opened read-write, which never blocks, whether or not containerd's reader is there yet; the
// shim closes its copy once runc has started the process, so containerd sees EOF when the process's last writer
// is gone). stdin: a pipe fed from the FIFO by a thread, so CloseIO can end the process's input even while a
// client keeps the FIFO open (what containerd's runc shim does). With a terminal, runc makes the pty and sends us
// its master over a console socket; the shim copies stdin FIFO -> master and master -> stdout FIFO.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <string>
#include <thread>

#include "cri-shim/spawn.h"
#include "idm/unique_fd.h"

namespace xg::shim {

class ProcessIo {
 public:
  ~ProcessIo();
  // Opens the FIFOs (empty path: /dev/null). nullptr with `error` if one cannot be opened.
  [[nodiscard]] static std::unique_ptr<ProcessIo> open(const std::string& stdin_path, const std::string& stdout_path,
                                                       const std::string& stderr_path, std::string& error);
  // The same for a process on a terminal; `socket_path` is where runc will send the pty's master.
  [[nodiscard]] static std::unique_ptr<ProcessIo> open_terminal(const std::string& stdin_path,
                                                                const std::string& stdout_path,
                                                                const std::string& socket_path, std::string& error);
  [[nodiscard]] bool terminal() const { return !console_path_.empty(); }
  // runc's --console-socket (terminal only).
  [[nodiscard]] const std::string& console_socket() const { return console_path_; }
  // After runc created the process: takes the pty master runc sent (bounded wait). Terminal only.
  [[nodiscard]] bool receive_console(std::string& error);
  // A terminal's output still in the pty when its process exits must reach containerd before the exit does
  // (clients stop reading when they see it): waits until the copy has drained (EIO), at most `limit`.
  void drain_output(std::chrono::milliseconds limit);
  // ResizePty.
  [[nodiscard]] bool resize(uint32_t width, uint32_t height);
  // The descriptors for runc to hand to the process.
  [[nodiscard]] SpawnIo spawn_io() const { return {in_read_.get(), out_.get(), err_.get()}; }
  // After runc created the process: drop our copies of its ends; start feeding stdin.
  void started();
  // CloseIO: the process's stdin ends (EOF) now.
  void close_stdin();

 private:
  ProcessIo() = default;
  void feed_stdin();
  idm::UniqueFd stdin_fifo_, in_read_, out_, err_;
  // The pipe's writing end belongs to the feeding thread alone (it closes it on EOF or when woken by
  // close_stdin), so no lock is held across a write that waits for the process to read.
  idm::UniqueFd in_write_;
  idm::UniqueFd wake_read_, wake_write_;
  std::thread feeder_;
  std::string console_path_;
  struct Drained {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  std::shared_ptr<Drained> drained_ = std::make_shared<Drained>();
  idm::UniqueFd console_listen_, master_;
};

}  // namespace xg::shim
