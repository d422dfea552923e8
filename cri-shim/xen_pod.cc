// TEMPORARY (shim-xen branch): a placeholder so the shim links before the real xen_pod.cc (the domain via `xl`,
// EROFS images, disk hot-plug) lands from the lead's branch, which replaces this file whole. Every operation
// answers that it is not implemented; nothing pretends to have booted, attached or built anything.
#include "cri-shim/xen_pod.h"

namespace xg::shim {

std::variant<XenPod, std::string> XenPod::boot(const XenPodSpec& spec, const std::string&) {
  return "XenPod::boot(" + spec.name + "): not implemented in this build (placeholder xen_pod.cc)";
}

std::optional<uint32_t> XenPod::find(const std::string&, const std::string&) { return std::nullopt; }

bool XenPod::alive() const { return false; }

std::optional<std::string> XenPod::attach_disk(uint32_t, const std::string&, const std::string&) {
  return std::string("XenPod::attach_disk: not implemented in this build (placeholder xen_pod.cc)");
}

void XenPod::detach_disk(uint32_t) {}

void XenPod::destroy() {}

std::optional<std::string> build_rootfs_image(const std::string&, const std::string&, uint64_t& millis) {
  millis = 0;
  return std::string("build_rootfs_image: not implemented in this build (placeholder xen_pod.cc)");
}

}  // namespace xg::shim
