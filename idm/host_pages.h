// Pinned host memory (cuMemHostAlloc): pages beyond the channel that the zone and its worker both map, so that
// copies from/to them need no staging. Each transport shares them its own way, behind these two interfaces:
//   shm: the worker makes a memfd (HostPages::kProxy) and sends it on the registration socket (SCM_RIGHTS) before
//        it answers; the zone maps it (host_pages_shm.cc).
//   xen: no fd passing between domains: the zone grants its own pages to the driver domain (HostPages::kLent), as
//        Xen frontends do, and names them by the refs of "directory" pages in the request's tail (layout and
//        bounds: messages_cuda.h); the worker maps them (idm/xen/lent_pages.cc).
// The zone and the worker each run one flow for every transport; only these objects differ.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "idm/messages_cuda.h"
#include "idm/result.h"

namespace xg::idm {

// Memory shared with the peer; the transport's RAII mapping (memfd mmap, or Xen grant mapping/sharing).
class SharedMemory {
 public:
  virtual ~SharedMemory() = default;
  [[nodiscard]] virtual std::span<std::byte> bytes() noexcept = 0;
};

// ---- zone side --------------------------------------------------------------------------------------------

// One pinned allocation the zone is about to ask for: what goes into MemHostAllocReq, and the pages if the zone
// provides them. Destroying it before accept() takes lent pages back (the transport defers freeing them until
// the worker has unmapped them).
struct PinnedOffer {
  HostPages from = HostPages::kProxy;    // MemHostAllocReq::pages_from
  uint64_t bytes = 0;                    // MemHostAllocReq::bytes
  std::vector<std::byte> tail;           // the request's tail (kLent: the directory refs)
  std::unique_ptr<SharedMemory> pages;   // kLent: our pages, already shared; kProxy: null until accept()
};

class ZoneHostPages {
 public:
  virtual ~ZoneHostPages() = default;
  // Before MemHostAlloc for `bytes`. kNoMemory: the pages cannot be had (logged once).
  [[nodiscard]] virtual Result<PinnedOffer> offer(uint64_t bytes) = 0;
  // After the worker answered with `handle` and `bytes`: the zone's mapping of the allocation. Errors:
  //   kPeerGone: the link is gone; kPeerImpossible: an answer no honest worker gives (the channel must close);
  //   kBadLength, kNoMemory: no mapping of that size; anything else: the hand-over failed (the OS).
  [[nodiscard]] virtual Result<std::unique_ptr<SharedMemory>> accept(PinnedOffer offer, uint64_t handle,
                                                                     uint64_t bytes) = 0;
};

// ---- proxy side -------------------------------------------------------------------------------------------

class ProxyHostPages {
 public:
  virtual ~ProxyHostPages() = default;
  // Which pages this transport shares; a request naming the other kind is not for this transport.
  [[nodiscard]] virtual HostPages kind() const noexcept = 0;
  // The pages of one allocation of `bytes`, described by the request's `tail` (kLent: the zone's directory refs,
  // hostile input, bounded and checked). kInvalidField: the zone named pages it cannot lend us (logged).
  [[nodiscard]] virtual Result<std::unique_ptr<SharedMemory>> obtain(uint64_t bytes,
                                                                     std::span<const std::byte> tail) = 0;
  // Before the answer goes out: gives the zone its view of pages obtain() made (kProxy: their memfd with
  // `handle`). Nothing to do for lent pages.
  [[nodiscard]] virtual Error hand_over(uint64_t handle, SharedMemory& pages) = 0;
};

}  // namespace xg::idm
