// The real PodDomain: a PV domU made with xl (xen_pod.h), declared on gpu-proxy as that domain's zone
// (pod_zone.h), its zone init reached as the backend of the domain's control device (zone_control.h).
#include <chrono>
#include <mutex>

#include "cri-shim/pod_domain.h"

namespace xg::shim {

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(60);  // xl create returns before the guest has booted

class XenPodDomain final : public PodDomain {
 public:
  XenPodDomain(XenPod pod, PodZone zone, std::string block_script)
      : pod_(std::move(pod)), zone_(std::move(zone)), block_script_(std::move(block_script)) {}
  ~XenPodDomain() override { destroy(); }
  uint32_t domid() const override { return pod_.domid(); }
  const std::string& name() const override { return pod_.name(); }
  bool alive() const override { return pod_.alive(); }
  std::optional<std::string> attach_disk(uint32_t index, const std::string& image) override {
    return pod_.attach_disk(index, image, block_script_);
  }
  void detach_disk(uint32_t index) override { pod_.detach_disk(index); }
  std::variant<std::unique_ptr<ZoneControl>, std::string> connect(ZoneEvents events) override {
    return ZoneControl::connect(pod_.domid(), kConnectTimeout, std::move(events));
  }
  void destroy() override {
    std::lock_guard lock(mu_);
    if (destroyed_) return;
    destroyed_ = true;
    pod_.destroy();
    zone_.destroy();
  }

 private:
  XenPod pod_;
  PodZone zone_;
  std::string block_script_;
  std::mutex mu_;
  bool destroyed_ = false;
};

}  // namespace

PodDomainBooter xen_pod_domains(const ShimConfig& cfg) {
  return [xl = cfg.xl, admin = cfg.admin_socket, script = cfg.block_script](
             const XenPodSpec& spec, const ZoneSpec& zone) -> std::variant<std::shared_ptr<PodDomain>, std::string> {
    auto booted = XenPod::boot(spec, xl);
    if (auto* why = std::get_if<std::string>(&booted)) return "booting the pod's domain: " + *why;
    XenPod& pod = std::get<XenPod>(booted);
    // Declared on gpu-proxy as that domain's zone, as `xen-gpu attach` does (create-xen), with the pod's quota
    // and weight from its annotations, as in stub mode.
    auto pz = PodZone::create_xen(admin, zone, pod.domid());
    if (auto* why = std::get_if<std::string>(&pz)) {
      pod.destroy();
      return *why;
    }
    return std::make_shared<XenPodDomain>(std::move(pod), std::move(std::get<PodZone>(pz)), script);
  };
}

}  // namespace xg::shim
