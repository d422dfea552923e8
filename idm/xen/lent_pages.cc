#include "idm/xen/lent_pages.h"

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "idm/log.h"
#include "idm/xen/grants.h"

namespace xg::idm::xen {
namespace {

constexpr uint64_t kPage = 4096;

// Pages the zone lent, as it sees them (shared) and as the worker sees them (mapped).
class SharedPages final : public SharedMemory {
 public:
  explicit SharedPages(std::shared_ptr<xengntshr_handle> xgs) : share(std::move(xgs)) {}
  std::span<std::byte> bytes() noexcept override { return share.bytes(); }
  DirectoryShare share;
};
class MappedPages final : public SharedMemory {
 public:
  explicit MappedPages(std::shared_ptr<xengnttab_handle> xgt) : map(std::move(xgt)) {}
  std::span<std::byte> bytes() noexcept override { return map.bytes(); }
  DirectoryMap map;
};

class Lender final : public ZoneHostPages {
 public:
  Lender(std::shared_ptr<xengntshr_handle> xgs, uint32_t domid) : xgs_(std::move(xgs)), domid_(domid) {}

  Result<PinnedOffer> offer(uint64_t bytes) override {
    const uint64_t pages = (bytes + kPage - 1) / kPage;
    if (pages == 0 || pages > kMaxLendPages) return Error::kNoMemory;
    auto p = std::make_unique<SharedPages>(xgs_);
    if (p->share.share(domid_, static_cast<uint32_t>(pages)) != Error::kOk) {
      static std::once_flag once;
      std::call_once(once, [&] {
        log_line("cannot grant " + std::to_string(pages) +
                 " pages of pinned host memory to the GPU proxy's domain (is "
                 "/sys/module/xen_gntalloc/parameters/limit, default 1024 pages in all, too low?)");
      });
      return Error::kNoMemory;
    }
    PinnedOffer o;
    o.from = HostPages::kLent;
    o.bytes = pages * kPage;
    const auto refs = std::as_bytes(p->share.dir_refs());
    o.tail.assign(refs.begin(), refs.end());
    o.pages = std::move(p);
    return o;
  }

  Result<std::unique_ptr<SharedMemory>> accept(PinnedOffer offer, uint64_t, uint64_t bytes) override {
    // The worker maps exactly the pages we lent: any other size is a worker that broke the protocol.
    if (bytes != offer.bytes) return Error::kPeerImpossible;
    return std::move(offer.pages);
  }

 private:
  std::shared_ptr<xengntshr_handle> xgs_;
  uint32_t domid_;
};

class Borrower final : public ProxyHostPages {
 public:
  Borrower(std::shared_ptr<xengnttab_handle> xgt, uint32_t domid) : xgt_(std::move(xgt)), domid_(domid) {}

  HostPages kind() const noexcept override { return HostPages::kLent; }

  Result<std::unique_ptr<SharedMemory>> obtain(uint64_t bytes, std::span<const std::byte> tail) override {
    const uint64_t pages = bytes / kPage;  // MemHostAllocReq::valid: a whole number of pages for kLent
    if (pages == 0 || pages > kMaxLendPages) return Error::kInvalidField;
    std::vector<uint32_t> dir(tail.size() / sizeof(uint32_t));  // size checked by MemHostAllocReq::valid
    std::memcpy(dir.data(), tail.data(), dir.size() * sizeof(uint32_t));
    auto m = std::make_unique<MappedPages>(xgt_);
    if (const char* why = m->map.map(domid_, dir, static_cast<uint32_t>(pages))) {
      log_line("xen: domain " + std::to_string(domid_) + " lent " + std::to_string(pages) + " pages: " + why);
      return Error::kInvalidField;
    }
    return std::unique_ptr<SharedMemory>(std::move(m));
  }

  Error hand_over(uint64_t, SharedMemory&) override { return Error::kOk; }  // the zone has its pages already

 private:
  std::shared_ptr<xengnttab_handle> xgt_;
  uint32_t domid_;
};

}  // namespace

std::unique_ptr<ZoneHostPages> lending_pages(uint32_t backend_domid) {
  auto xgs = open_gntshr();
  if (!xgs) return nullptr;
  return std::make_unique<Lender>(std::move(xgs), backend_domid);
}

std::unique_ptr<ProxyHostPages> borrowed_pages(std::shared_ptr<xengnttab_handle> xgt, uint32_t frontend_domid) {
  return std::make_unique<Borrower>(std::move(xgt), frontend_domid);
}

}  // namespace xg::idm::xen
