// Grant-table mechanics shared by the channel and by lent host pages: pages named by read-only "directory"
// pages of grant refs (the layout is xen_handshake.h's; lent pages use the same, messages_cuda.h).
//   DirectoryShare (zone): shares pages with a domain, and the directory pages that list their refs.
//   DirectoryMap (driver domain): maps pages of a domain through their directory, copying the refs out once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "idm/result.h"

typedef struct xengntdev_handle xengnttab_handle;
typedef struct xengntdev_handle xengntshr_handle;

namespace xg::idm::xen {

// Handles of gntdev (mapping others' grants) and gntalloc (granting our pages); null and logged on failure.
[[nodiscard]] std::shared_ptr<xengnttab_handle> open_gnttab();
[[nodiscard]] std::shared_ptr<xengntshr_handle> open_gntshr();

// Zone side: `count` zeroed pages granted writable to `domid`, plus read-only directory pages listing their refs
// (the peer must not be able to redirect our own view of the directory). Unshared on destruction; gntalloc defers
// freeing a page until the peer has unmapped it, so unsharing first is always safe.
class DirectoryShare {
 public:
  explicit DirectoryShare(std::shared_ptr<xengntshr_handle> xgs) : xgs_(std::move(xgs)) {}
  DirectoryShare(const DirectoryShare&) = delete;
  DirectoryShare& operator=(const DirectoryShare&) = delete;
  ~DirectoryShare();
  [[nodiscard]] Error share(uint32_t domid, uint32_t count);
  [[nodiscard]] std::span<std::byte> bytes() const noexcept;
  [[nodiscard]] std::span<const uint32_t> dir_refs() const noexcept { return dir_refs_; }
  [[nodiscard]] std::span<uint32_t> directory() const noexcept;
  [[nodiscard]] xengntshr_handle* handle() const noexcept { return xgs_.get(); }

 private:
  std::shared_ptr<xengntshr_handle> xgs_;
  void* pages_ = nullptr;
  uint32_t count_ = 0;
  void* dir_ = nullptr;
  std::vector<uint32_t> dir_refs_;
};

// Driver-domain side: `count` pages of `domid` named by directory pages. The directory is mapped read-only, every
// ref copied out once, and unmapped: nothing reads the guest's directory again (no double fetch). Refs that
// repeat are refused (two pages of one mapping backed by the same guest page).
class DirectoryMap {
 public:
  explicit DirectoryMap(std::shared_ptr<xengnttab_handle> xgt) : xgt_(std::move(xgt)) {}
  DirectoryMap(const DirectoryMap&) = delete;
  DirectoryMap& operator=(const DirectoryMap&) = delete;
  ~DirectoryMap();
  // nullptr on success, else why (for the log / the frontend's error node).
  [[nodiscard]] const char* map(uint32_t domid, std::span<const uint32_t> dir_refs, uint32_t count);
  [[nodiscard]] std::span<std::byte> bytes() const noexcept;
  [[nodiscard]] xengnttab_handle* handle() const noexcept { return xgt_.get(); }

 private:
  std::shared_ptr<xengnttab_handle> xgt_;
  void* addr_ = nullptr;
  uint32_t count_ = 0;
};

}  // namespace xg::idm::xen
