// The channel's pages over grants, with the liveness page (xen_handshake.h says why there is one):
//   GrantShare (zone): shares the channel pages, their read-only directory and the liveness page.
//   GrantMap (driver domain): maps them through the directory, and the liveness page with an unmap notification.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "idm/channel.h"
#include "idm/result.h"
#include "idm/xen/grants.h"
#include "idm/xen/peer_link.h"

namespace xg::idm::xen {

// Shares `geometry.total_pages()` zeroed channel pages, the read-only directory pages and the liveness page
// (unmap notification on `port`, our end of the event channel) with `domid`.
class GrantShare;
[[nodiscard]] Result<std::unique_ptr<GrantShare>> share_channel(uint32_t domid, const ChannelGeometry& geometry,
                                                                uint32_t port);
class GrantShare final : public SharedMemory {
 public:
  ~GrantShare() override;
  std::span<std::byte> bytes() noexcept override { return chan_.bytes(); }
  [[nodiscard]] std::span<const uint32_t> dir_refs() const noexcept { return chan_.dir_refs(); }
  [[nodiscard]] uint32_t alive_ref() const noexcept { return alive_ref_; }
  // The liveness page (byte kFrontendAliveByte is ours, kBackendAliveByte the backend's).
  [[nodiscard]] volatile uint8_t* alive_page() noexcept { return static_cast<volatile uint8_t*>(alive_); }
  // The directory pages themselves (tests overwrite them with garbage refs).
  [[nodiscard]] std::span<uint32_t> directory() noexcept { return chan_.directory(); }
  // Keeps `link` (the connection's xenstore link) alive until the pages are unshared, so that "Closed" is
  // written only after that.
  void hold_until_unshared(std::shared_ptr<PeerLink> link) noexcept { link_ = std::move(link); }

 private:
  friend Result<std::unique_ptr<GrantShare>> share_channel(uint32_t, const ChannelGeometry&, uint32_t);
  explicit GrantShare(std::shared_ptr<xengntshr_handle> xgs) : chan_(std::move(xgs)) {}
  // Destroyed in reverse order: the liveness page (in ~GrantShare), the channel, then the link.
  std::shared_ptr<PeerLink> link_;
  DirectoryShare chan_;
  void* alive_ = nullptr;
  uint32_t alive_ref_ = 0;
};

// The backend's view of the zone's channel pages, plus the liveness page.
class GrantMap final : public SharedMemory {
 public:
  explicit GrantMap(std::shared_ptr<xengnttab_handle> xgt) : chan(std::move(xgt)) {}
  ~GrantMap() override;
  std::span<std::byte> bytes() noexcept override { return chan.bytes(); }
  // Maps the liveness page with an unmap notification (clear our byte, signal `port`) so the zone learns at
  // once if this process dies, and sets our byte.
  [[nodiscard]] bool map_alive(uint32_t domid, uint32_t ref, uint32_t port) noexcept;
  [[nodiscard]] const volatile uint8_t* alive_page() const noexcept {
    return static_cast<const volatile uint8_t*>(alive_);
  }
  // Destroyed in reverse order: the liveness page (in ~GrantMap), the channel, then the link, whose last owner
  // writes Closed once nothing is mapped.
  std::shared_ptr<PeerLink> link;
  DirectoryMap chan;

 private:
  void* alive_ = nullptr;
};

}  // namespace xg::idm::xen
