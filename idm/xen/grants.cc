#include "idm/xen/grants.h"

#include <sys/mman.h>

#include <cstring>
#include <string>

#include "idm/channel.h"
#include "idm/log.h"
#include "idm/xen/xen_c.h"
#include "idm/xen/xen_handshake.h"

namespace xg::idm::xen {

std::shared_ptr<xengnttab_handle> open_gnttab() {
  xengnttab_handle* h = ::xengnttab_open(nullptr, 0);
  if (!h) {
    log_errno("xen: xengnttab_open (/dev/xen/gntdev)");
    return nullptr;
  }
  return {h, [](xengnttab_handle* x) { ::xengnttab_close(x); }};
}

std::shared_ptr<xengntshr_handle> open_gntshr() {
  xengntshr_handle* h = ::xengntshr_open(nullptr, 0);
  if (!h) {
    log_errno("xen: xengntshr_open (/dev/xen/gntalloc)");
    return nullptr;
  }
  return {h, [](xengntshr_handle* x) { ::xengntshr_close(x); }};
}

// ---- DirectoryShare ----------------------------------------------------------------------------------------

DirectoryShare::~DirectoryShare() {
  if (pages_) ::xengntshr_unshare(xgs_.get(), pages_, count_);
  if (dir_) ::xengntshr_unshare(xgs_.get(), dir_, dir_refs_.size());
}

Error DirectoryShare::share(uint32_t domid, uint32_t count) {
  std::vector<uint32_t> refs(count);
  pages_ = ::xengntshr_share_pages(xgs_.get(), domid, static_cast<int>(count), refs.data(), 1);
  if (!pages_) {
    log_errno("xen: share " + std::to_string(count) + " pages with domain " + std::to_string(domid));
    return Error::kSystem;
  }
  count_ = count;
  std::memset(pages_, 0, size_t{count} * kPageBytes);
  dir_refs_.resize(lend_dir_pages(count));
  dir_ = ::xengntshr_share_pages(xgs_.get(), domid, static_cast<int>(dir_refs_.size()), dir_refs_.data(), 0);
  if (!dir_) {
    log_errno("xen: share directory pages");
    return Error::kSystem;
  }
  std::memset(dir_, 0, dir_refs_.size() * kPageBytes);
  std::memcpy(dir_, refs.data(), refs.size() * sizeof(uint32_t));
  return Error::kOk;
}

std::span<std::byte> DirectoryShare::bytes() const noexcept {
  return {static_cast<std::byte*>(pages_), size_t{count_} * kPageBytes};
}

std::span<uint32_t> DirectoryShare::directory() const noexcept {
  return {static_cast<uint32_t*>(dir_), dir_refs_.size() * kRefsPerDirPage};
}

// ---- DirectoryMap ------------------------------------------------------------------------------------------

DirectoryMap::~DirectoryMap() {
  if (addr_ && ::xengnttab_unmap(xgt_.get(), addr_, count_) != 0) log_errno("xen: unmap granted pages");
}

const char* DirectoryMap::map(uint32_t domid, std::span<const uint32_t> dir_refs, uint32_t count) {
  if (count == 0 || dir_refs.size() != lend_dir_pages(count)) return "directory size does not match the page count";
  std::vector<uint32_t> dref(dir_refs.begin(), dir_refs.end());
  void* dir = ::xengnttab_map_domain_grant_refs(xgt_.get(), dref.size(), domid, dref.data(), PROT_READ);
  if (!dir) return "cannot map the directory pages";
  std::vector<uint32_t> refs(count);
  std::memcpy(refs.data(), dir, refs.size() * sizeof(uint32_t));  // count <= dir pages * kRefsPerDirPage
  ::xengnttab_unmap(xgt_.get(), dir, dref.size());
  if (check_channel_refs(refs) != Reject::kOk) return reject_name(Reject::kDuplicateRef);
  addr_ = ::xengnttab_map_domain_grant_refs(xgt_.get(), count, domid, refs.data(), PROT_READ | PROT_WRITE);
  if (!addr_) return "cannot map the granted pages";
  count_ = count;
  return nullptr;
}

std::span<std::byte> DirectoryMap::bytes() const noexcept {
  return {static_cast<std::byte*>(addr_), size_t{count_} * kPageBytes};
}

}  // namespace xg::idm::xen
