// Reading containerd's stdin FIFO for a process, shared by stub mode (into the process's pipe: container_io.h)
// and Xen mode (into CtlStdin: zone_io.h). containerd opens the FIFO's write end when it has input, maybe late, and
// a FIFO with no writer yet reads as EOF too: so only a hang-up after data (or POLLHUP) ends the input.
#pragma once

#include <functional>
#include <span>

namespace xg::shim {

enum class FeedEnd {
  kEof,       // the writer hung up: the process should read EOF
  kStopped,   // `wake` became readable (CloseIO, or the process ended)
  kSinkGone,  // `sink` refused (the process closed its stdin, or the zone is gone)
};

// Reads `fifo` into `buf`-sized chunks and hands each to `sink` until one of the above.
FeedEnd feed_fifo(int fifo, int wake, std::span<char> buf, const std::function<bool(std::span<const char>)>& sink);

}  // namespace xg::shim
