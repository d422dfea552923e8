#include "cri-shim/zone_io.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cri-shim/fifo_feed.h"
#include "idm/messages_zonectl.h"

namespace xg::shim {

ZoneIo::~ZoneIo() {
  close_stdin();
  if (feeder_.joinable()) feeder_.join();
}

std::unique_ptr<ZoneIo> ZoneIo::open(const std::string& stdin_path, const std::string& stdout_path,
                                     const std::string& stderr_path, std::string& error) {
  std::unique_ptr<ZoneIo> io(new ZoneIo());  // private constructor: make_unique cannot reach it
  auto open_out = [&](const std::string& path, idm::UniqueFd& fd) {
    if (path.empty()) return true;
    // Non-blocking: write() waits in poll(), bounded (see write()).
    fd.reset(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) error = "open " + path + ": " + std::strerror(errno);
    return fd.valid();
  };
  if (!open_out(stdout_path, io->out_) || !open_out(stderr_path, io->err_)) return nullptr;
  if (!stdin_path.empty()) {
    // Non-blocking: opening a FIFO for reading must not wait for its writer (containerd opens it when it likes).
    io->stdin_fifo_.reset(::open(stdin_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    int w[2];
    if (!io->stdin_fifo_.valid() || ::pipe2(w, O_CLOEXEC | O_NONBLOCK) != 0) {
      error = "open " + stdin_path + ": " + std::strerror(errno);
      return nullptr;
    }
    io->wake_read_.reset(w[0]);
    io->wake_write_.reset(w[1]);
  }
  return io;
}

void ZoneIo::start_stdin(StdinSink sink) {
  if (!stdin_fifo_.valid() || feeder_.joinable()) return;
  feeder_ = std::thread([this, sink = std::move(sink)] { feed(sink); });
}

void ZoneIo::feed(StdinSink sink) {
  // Chunks of one CtlStdin each (ZoneControl splits larger ones anyway).
  std::vector<char> local(idm::kMaxCtlChunk);
  const FeedEnd end = feed_fifo(stdin_fifo_.get(), wake_read_.get(), local,
                                [&](std::span<const char> b) { return sink(std::as_bytes(b), false); });
  if (end != FeedEnd::kSinkGone) (void)sink({}, true);  // the process reads EOF
}

void ZoneIo::close_stdin() {
  if (wake_write_.valid()) {
    const char b = 1;
    (void)!::write(wake_write_.get(), &b, 1);
  }
}

void ZoneIo::write(int stream, std::span<const std::byte> bytes, std::chrono::milliseconds limit) {
  std::lock_guard lock(out_mu_);
  const idm::UniqueFd& fd = stream == 2 ? err_ : out_;
  if (!fd.valid()) return;  // containerd gave no FIFO for this stream: the output is not wanted
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!bytes.empty()) {
    const ssize_t w = ::write(fd.get(), bytes.data(), bytes.size());
    if (w > 0) {
      bytes = bytes.subspan(static_cast<size_t>(w));
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno != EAGAIN) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd.get(), POLLOUT, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
  }
  if (!bytes.empty())
    std::fprintf(stderr, "xen-gpu shim: %zu bytes of a zone process's output dropped (nobody reads its FIFO)\n",
                 bytes.size());
}

void ZoneIo::close_output() {
  std::lock_guard lock(out_mu_);
  out_.reset();
  err_.reset();
}

}  // namespace xg::shim
