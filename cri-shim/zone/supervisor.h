// The zone init's table of processes and the I/O thread that serves it: reads each process's stdout and stderr
// (non-blocking pipes) into bounded buffers, feeds stdin, and reaps every child (PID 1 must reap orphans too,
// tracked or not). The control server (zone_ctl_server.h) asks it for events.
//
// Ordering promises:
// - back-pressure, not loss: a full buffer stops reading its pipe until a Poll takes bytes out, so a writer
//   blocks in the container;
// - a process's exit is reported only after all of its output: once both pipes reached EOF and their buffers
//   are drained. A pipe still held open by something the process left behind (a background child of an exec)
//   is read for `linger` after the exit, then drained once and closed, so that such a child cannot hold the
//   exit back for ever;
// - a pid is signalled only while its exit is unrecorded (the reaper records under the same lock), so a signal
//   never reaches a recycled pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "cri-shim/zone/process_host.h"
#include "idm/unique_fd.h"

namespace xg::zone {

struct SupervisorLimits {
  size_t stream_bytes = 256 * 1024;  // per stdout/stderr buffer
  size_t stdin_bytes = 256 * 1024;   // queued stdin not yet taken by the process
  size_t max_procs = 1024;           // table entries, exited-but-not-removed ones included
  std::chrono::milliseconds linger{2000};
};

struct PollBatch {
  std::vector<std::byte> tail;  // CtlEvent records (messages_zonectl.h)
  uint32_t events = 0;
  bool pending = false;  // more was ready than fitted
};

class Supervisor {
 public:
  // Blocks SIGCHLD in the calling thread (read through a signalfd by the I/O thread; threads started later
  // inherit the mask, so construct this before any other thread) and ignores SIGPIPE (a closed stdin is an
  // errno, not a death). Children get both back (spawn.cc).
  explicit Supervisor(SupervisorLimits limits = {});
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  [[nodiscard]] bool ok() const noexcept { return io_.joinable(); }

  // Held across ProcessHost::start and add(): the reaper waits, so a child that exits at once is recorded
  // before it is reaped.
  [[nodiscard]] std::unique_lock<std::mutex> hold_reaper() { return std::unique_lock(start_mu_); }

  struct Entry {
    pid_t pid = 0;
    uint32_t container_proc = 0;  // 0: a container's first process
    bool exited = false;
  };
  [[nodiscard]] std::optional<Entry> find(uint32_t proc_id);
  [[nodiscard]] bool full();
  // Records a started process and takes its pipes. EEXIST or ENOSPC.
  [[nodiscard]] int add(uint32_t proc_id, uint32_t container_proc, Spawned&& s);
  // kill(pid, sig) unless its exit is recorded (ESRCH then).
  [[nodiscard]] int signal(uint32_t proc_id, int sig);
  // Queues bytes for the process's stdin; then closes it if `close`. ENOENT, EPIPE (no stdin, or closed),
  // EAGAIN (the queue is full: try again after the process read some).
  [[nodiscard]] int write_stdin(uint32_t proc_id, std::span<const std::byte> bytes, bool close);
  // A terminal's window size. ENOENT, ENOTTY (the process has no terminal), ESRCH (it has exited).
  [[nodiscard]] int resize(uint32_t proc_id, uint16_t cols, uint16_t rows);
  // Forgets an exited process. ENOENT, EBUSY (still running).
  [[nodiscard]] int remove(uint32_t proc_id);
  // Events that fit `max_bytes`; waits up to `wait` while nothing is ready.
  [[nodiscard]] PollBatch poll(size_t max_bytes, std::chrono::milliseconds wait);
  // Whether a Poll would have something to return now.
  [[nodiscard]] bool ready();
  // Called (with the table locked: it must not call back into the Supervisor) whenever something becomes ready
  // for a Poll; nullptr: nobody. The zone's control server waits on its ring and on this at once.
  void set_on_ready(std::function<void()> fn);
  [[nodiscard]] size_t running();
  // Called by the reaper, with the table locked, when a container's first process (container_proc 0) is reaped:
  // every process of a container in its own PID namespace is gone then. Must not call back into the Supervisor.
  void set_on_container_exit(std::function<void(uint32_t proc_id)> fn);

 private:
  struct Stream {
    idm::UniqueFd fd;
    std::vector<std::byte> buf;
    size_t head = 0;
    bool armed = false;
    [[nodiscard]] size_t available() const noexcept { return buf.size() - head; }
    [[nodiscard]] bool closed() const noexcept { return !fd.valid(); }
  };
  struct Proc {
    pid_t pid = 0;
    uint32_t container_proc = 0;
    Stream out, err;
    idm::UniqueFd in;
    idm::UniqueFd tty;  // a terminal's master (Spawned::tty), for its window size
    std::vector<std::byte> in_queue;
    bool in_close = false, in_armed = false;
    bool exited = false, exit_sent = false, drained_once = false;
    int status = 0;
    std::chrono::steady_clock::time_point exited_at;
  };

  void run();
  void reap_locked();
  void on_stream(uint32_t proc_id, int which);
  void on_stdin(uint32_t proc_id);
  void flush_stdin_locked(uint32_t proc_id, Proc& p);
  void linger_locked();
  // Reads what is there (bounded); closes on EOF or error. Returns true if anything changed.
  bool read_stream_locked(uint32_t proc_id, int which, Stream& s, size_t budget);
  void set_armed_locked(uint32_t proc_id, int which, Stream& s, bool on);
  void close_stream_locked(Stream& s);
  [[nodiscard]] bool exit_ready(const Proc& p) const noexcept;
  [[nodiscard]] bool anything_ready_locked() const noexcept;
  void notify_ready_locked();

  SupervisorLimits limits_;
  std::mutex start_mu_;  // held by a start; the reaper only try-locks it
  std::mutex mu_;        // the table
  std::condition_variable ready_cv_;
  std::map<uint32_t, Proc> procs_;
  uint32_t rr_ = 0;  // the last proc_id a Poll served first, for fairness
  std::function<void(uint32_t)> on_container_exit_;  // guarded by mu_
  std::function<void()> on_ready_;                    // guarded by mu_
  idm::UniqueFd epoll_, sigfd_, wake_;
  bool stopping_ = false;
  std::thread io_;
};

}  // namespace xg::zone
