#include "cri-shim/fifo_feed.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace xg::shim {

FeedEnd feed_fifo(int fifo, int wake, std::span<char> buf, const std::function<bool(std::span<const char>)>& sink) {
  bool writer_seen = false;
  for (;;) {
    pollfd fds[2] = {{fifo, POLLIN, 0}, {wake, POLLIN, 0}};
    if (::poll(fds, 2, writer_seen ? -1 : 100) < 0 && errno != EINTR) return FeedEnd::kStopped;
    if (fds[1].revents) return FeedEnd::kStopped;
    if (!(fds[0].revents & (POLLIN | POLLHUP))) continue;
    const ssize_t n = ::read(fifo, buf.data(), buf.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n == 0) {
      if (fds[0].revents & POLLHUP) return FeedEnd::kEof;
      continue;
    }
    if (n < 0) return FeedEnd::kEof;
    writer_seen = true;
    if (!sink(buf.first(static_cast<size_t>(n)))) return FeedEnd::kSinkGone;
  }
}

}  // namespace xg::shim
