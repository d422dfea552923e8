#include "cri-shim/container_io.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xg::shim {

ProcessIo::~ProcessIo() {
  close_stdin();
  if (feeder_.joinable()) feeder_.join();
}

std::unique_ptr<ProcessIo> ProcessIo::open(const std::string& stdin_path, const std::string& stdout_path,
                                           const std::string& stderr_path, std::string& error) {
  std::unique_ptr<ProcessIo> io(new ProcessIo());  // private constructor: make_unique cannot reach it
  auto open_out = [&](const std::string& path, idm::UniqueFd& fd) {
    if (path.empty()) return true;
    fd.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd.valid()) error = "open " + path + ": " + std::strerror(errno);
    return fd.valid();
  };
  if (!open_out(stdout_path, io->out_) || !open_out(stderr_path, io->err_)) return nullptr;
  if (!stdin_path.empty()) {
    // Non-blocking: opening a FIFO for reading must not wait for its writer (containerd opens it when it likes).
    io->stdin_fifo_.reset(::open(stdin_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    int p[2], w[2];
    if (!io->stdin_fifo_.valid() || ::pipe2(p, O_CLOEXEC) != 0 || ::pipe2(w, O_CLOEXEC | O_NONBLOCK) != 0) {
      error = "open " + stdin_path + ": " + std::strerror(errno);
      return nullptr;
    }
    io->in_read_.reset(p[0]);
    io->in_write_.reset(p[1]);
    io->wake_read_.reset(w[0]);
    io->wake_write_.reset(w[1]);
  }
  return io;
}

void ProcessIo::started() {
  out_.reset();
  err_.reset();
  in_read_.reset();
  if (stdin_fifo_.valid() && !feeder_.joinable()) feeder_ = std::thread([this] { feed_stdin(); });
}

void ProcessIo::feed_stdin() {
  char buf[32 * 1024];
  bool writer_seen = false;
  for (;;) {
    pollfd fds[2] = {{stdin_fifo_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    if (::poll(fds, 2, writer_seen ? -1 : 100) < 0 && errno != EINTR) break;
    if (fds[1].revents) break;
    if (!(fds[0].revents & (POLLIN | POLLHUP))) continue;
    const ssize_t n = ::read(stdin_fifo_.get(), buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n == 0) {
      // A FIFO with no writer yet reads as EOF too: only a hang-up after data, or POLLHUP, ends the input.
      if (fds[0].revents & POLLHUP) break;
      continue;
    }
    if (n < 0) break;
    writer_seen = true;
    bool gone = false;  // the process closed its stdin (EPIPE: SIGPIPE is ignored in the shim)
    for (ssize_t off = 0; off < n && !gone;) {
      const ssize_t w = ::write(in_write_.get(), buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) gone = true;
      else off += w;
    }
    if (gone) break;
  }
  in_write_.reset();  // the process reads EOF
}

void ProcessIo::close_stdin() {
  if (wake_write_.valid()) {
    const char b = 1;
    (void)!::write(wake_write_.get(), &b, 1);
  }
}

}  // namespace xg::shim
