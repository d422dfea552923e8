// A pod's PV domU (Xen mode): built with the toolstack (`xl create` from a config the shim writes into the
// sandbox's bundle), its containers' root filesystems hot-plugged as read-only PV disks (EROFS images built from
// containerd's mounts with mkfs.erofs), destroyed with the pod. Nothing here speaks to the zone init: that is
// zone_control.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace xg::shim {

struct XenPodSpec {
  std::string name;       // the domain's name (the pod's zone name)
  std::string kernel;     // the zone kernel (`make kernel`) or any PV-capable kernel
  std::string initramfs;  // holds xg-zone-init as /init (cri-shim/zone/make-zone-initramfs.sh)
  uint32_t memory_mib = 256;
  uint32_t vcpus = 1;
  std::string extra_cmdline;  // appended to "console=hvc0"
  std::string workdir;        // where the domain's config and logs go (the sandbox's bundle)
};

class XenPod {
 public:
  // Writes <workdir>/domain.cfg and runs `xl create`; the error names what failed (with xl's own message).
  [[nodiscard]] static std::variant<XenPod, std::string> boot(const XenPodSpec& spec, const std::string& xl);
  // A domain that already exists (the shim's `delete` after a crash finds it by name).
  [[nodiscard]] static std::optional<uint32_t> find(const std::string& name, const std::string& xl);
  // The same as a XenPod, so that it can be destroyed (the shim's `delete` after a crash). Built on find().
  [[nodiscard]] static std::optional<XenPod> adopt(const std::string& name, const std::string& xl) {
    if (const auto id = find(name, xl)) return XenPod(name, *id, xl);
    return std::nullopt;
  }
  uint32_t domid() const noexcept { return domid_; }
  const std::string& name() const noexcept { return name_; }
  // Is the domain still there (not dying, not gone)?
  [[nodiscard]] bool alive() const;
  // Hot-plugs `image` read-only as disk xvd('a' + index); `script` is the block hotplug script (xg-block-hotplug).
  [[nodiscard]] std::optional<std::string> attach_disk(uint32_t index, const std::string& image,
                                                       const std::string& script);
  void detach_disk(uint32_t index);
  // `xl destroy`; waits (bounded) until the domain is gone. Idempotent.
  void destroy();

 private:
  XenPod(std::string name, uint32_t domid, std::string xl) : name_(std::move(name)), domid_(domid), xl_(std::move(xl)) {}
  std::string name_;
  uint32_t domid_ = 0;
  std::string xl_;
};

// Builds an EROFS image of `dir` at `image` (uncompressed: the zone kernel needs no decompressor, and the image
// is built once per container start). The error carries mkfs.erofs's message; `millis` how long it took.
[[nodiscard]] std::optional<std::string> build_rootfs_image(const std::string& dir, const std::string& image,
                                                            uint64_t& millis);

}  // namespace xg::shim
