#include "cri-shim/container_io.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sys/stat.h>

#include "cri-shim/fifo_feed.h"

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
  if (master_.valid()) {
    // The terminal's output: a thread of its own with its own descriptors (it ends when the pty's last user
    // is gone: read gives EIO), so nothing here waits for it.
    idm::UniqueFd m(::dup(master_.get())), out(out_.release());
    std::thread([m = std::move(m), out = std::move(out), drained = drained_] {
      char buf[32 * 1024];
      bool ok = true;
      while (ok) {
        const ssize_t n = ::read(m.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t off = 0; off < n && ok;) {
          const ssize_t w = ::write(out.get(), buf + off, static_cast<size_t>(n - off));
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) ok = false;
          else off += w;
        }
      }
      std::lock_guard lock(drained->mu);
      drained->done = true;
      drained->cv.notify_all();
    }).detach();
    if (stdin_fifo_.valid()) in_write_.reset(::dup(master_.get()));
  }
  out_.reset();
  err_.reset();
  in_read_.reset();
  if (stdin_fifo_.valid() && !feeder_.joinable()) feeder_ = std::thread([this] { feed_stdin(); });
}

std::unique_ptr<ProcessIo> ProcessIo::open_terminal(const std::string& stdin_path, const std::string& stdout_path,
                                                    const std::string& socket_path, std::string& error) {
  auto io = open(stdin_path, "", "", error);
  if (!io) return nullptr;
  io->in_read_.reset();  // the process reads the pty, not our pipe
  if (!stdout_path.empty()) {
    io->out_.reset(::open(stdout_path.c_str(), O_RDWR | O_CLOEXEC));
    if (!io->out_.valid()) {
      error = "open " + stdout_path + ": " + std::strerror(errno);
      return nullptr;
    }
  }
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof sa.sun_path) {
    error = "console socket path too long: " + socket_path;
    return nullptr;
  }
  std::memcpy(sa.sun_path, socket_path.c_str(), socket_path.size() + 1);
  ::unlink(socket_path.c_str());
  io->console_listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::bind(io->console_listen_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(io->console_listen_.get(), 1) != 0) {
    error = "console socket " + socket_path + ": " + std::strerror(errno);
    return nullptr;
  }
  ::chmod(socket_path.c_str(), 0600);
  io->console_path_ = socket_path;
  return io;
}

bool ProcessIo::receive_console(std::string& error) {
  // runc has sent the master by the time `runc create`/`exec` returned (it waits in our backlog); still bound
  // the wait, in case runc failed in a way it did not report.
  pollfd p{console_listen_.get(), POLLIN, 0};
  idm::UniqueFd c;
  if (::poll(&p, 1, 10'000) == 1) c.reset(::accept4(console_listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ::unlink(console_path_.c_str());
  console_listen_.reset();
  if (!c.valid()) {
    error = "runc did not send the terminal";
    return false;
  }
  char name[4096];  // runc sends the pty's name with it; we do not need it
  iovec iov{name, sizeof name};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(c.get(), &msg, MSG_CMSG_CLOEXEC) < 0) {
    error = std::string("receiving the terminal: ") + std::strerror(errno);
    return false;
  }
  // Exactly one descriptor, as runc sends (anything else is not runc: closed, not used).
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)) ||
      (msg.msg_flags & MSG_CTRUNC)) {
    error = "no terminal in runc's message";
    return false;
  }
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  master_.reset(fd);
  return true;
}

void ProcessIo::drain_output(std::chrono::milliseconds limit) {
  if (!terminal()) return;  // without a terminal the process writes to containerd's FIFO itself
  std::unique_lock lock(drained_->mu);
  drained_->cv.wait_for(lock, limit, [&] { return drained_->done; });
}

bool ProcessIo::resize(uint32_t width, uint32_t height) {
  if (!master_.valid() || width > 0xFFFF || height > 0xFFFF) return false;
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(width);
  ws.ws_row = static_cast<unsigned short>(height);
  return ::ioctl(master_.get(), TIOCSWINSZ, &ws) == 0;
}

void ProcessIo::feed_stdin() {
  char buf[32 * 1024];
  (void)feed_fifo(stdin_fifo_.get(), wake_read_.get(), buf, [&](std::span<const char> b) {
    // false: the process closed its stdin (EPIPE: SIGPIPE is ignored in the shim)
    while (!b.empty()) {
      const ssize_t w = ::write(in_write_.get(), b.data(), b.size());
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      b = b.subspan(static_cast<size_t>(w));
    }
    return true;
  });
  in_write_.reset();  // the process reads EOF
}

void ProcessIo::close_stdin() {
  if (wake_write_.valid()) {
    const char b = 1;
    (void)!::write(wake_write_.get(), &b, 1);
  }
}

}  // namespace xg::shim
