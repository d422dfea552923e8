// Pinned host memory over Xen (host_pages.h): the zone grants its own pages to the driver domain and names them
// by directory refs in the MemHostAlloc request (HostPages::kLent); the worker maps them, bounded and checked.
#pragma once

#include <cstdint>
#include <memory>

#include "idm/host_pages.h"

namespace xg::idm::xen {

// Zone side: lends pages to `backend_domid` (its own gntalloc handle). Null (logged) if gntalloc cannot be opened.
[[nodiscard]] std::unique_ptr<ZoneHostPages> lending_pages(uint32_t backend_domid);
// Driver-domain side: maps pages `frontend_domid` lent, through the gntdev handle `xgt` the channel uses.
[[nodiscard]] std::unique_ptr<ProxyHostPages> borrowed_pages(std::shared_ptr<struct xengntdev_handle> xgt,
                                                             uint32_t frontend_domid);

}  // namespace xg::idm::xen
