#include "cri-shim/xen_pod.h"

#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <thread>

#include "cri-shim/spawn.h"

namespace xg::shim {
namespace {

using Clock = std::chrono::steady_clock;

bool ok(const RunResult& r) { return r.status >= 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0; }

std::string last_line(const std::string& s) {
  size_t end = s.find_last_not_of("\n ");
  if (end == std::string::npos) return "";
  size_t begin = s.rfind('\n', end);
  return s.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1) + 1);
}

// xl's whole message, on one line and bounded (libxl explains a failure over several lines before its summary).
std::string one_line(const std::string& s, size_t max = 2048) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) break;
    out += (c == '\n') ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string disk_name(uint32_t index) { return std::string("xvd") + static_cast<char>('a' + index); }

// A value for an xl config string: the shim made every part of it (paths in the bundle, our config, a zone name of
// [A-Za-z0-9._-]), but a quote or backslash would still end the string early, so such a value is refused.
bool quotable(const std::string& v) { return v.find_first_of("\"\\\n") == std::string::npos; }

}  // namespace

std::variant<XenPod, std::string> XenPod::boot(const XenPodSpec& spec, const std::string& xl) {
  for (const std::string* v : {&spec.name, &spec.kernel, &spec.initramfs, &spec.extra_cmdline, &spec.workdir})
    if (!quotable(*v)) return "a value for the domain's config holds a quote, backslash or newline: " + *v;
  if (spec.memory_mib < 64 || spec.vcpus < 1) return std::string("a zone needs at least 64 MiB and one vCPU");
  const std::string cfg = spec.workdir + "/domain.cfg";
  {
    std::ofstream f(cfg, std::ios::trunc);
    f << "# written by containerd-shim-xen-gpu-v1 for pod zone " << spec.name << "\n"
      << "name = \"" << spec.name << "\"\n"
      << "type = \"pv\"\n"
      << "kernel = \"" << spec.kernel << "\"\n"
      << "ramdisk = \"" << spec.initramfs << "\"\n"
      << "extra = \"console=hvc0 rdinit=/init quiet" << (spec.extra_cmdline.empty() ? "" : " ") << spec.extra_cmdline
      << "\"\n"
      << "memory = " << spec.memory_mib << "\n"
      << "vcpus = " << spec.vcpus << "\n"
      // The shim decides a pod's end: a zone that powers off or crashes is gone, never restarted behind its back.
      << "on_poweroff = \"destroy\"\non_reboot = \"destroy\"\non_crash = \"destroy\"\n";
    if (!f.flush()) return "cannot write " + cfg;
  }
  const RunResult r = run_captured({xl, "create", cfg});
  if (!ok(r)) return "xl create " + cfg + " failed: " + one_line(r.output);
  const auto id = find(spec.name, xl);
  if (!id) return "xl create succeeded but domain " + spec.name + " is not listed";
  return XenPod(spec.name, *id, xl);
}

std::optional<uint32_t> XenPod::find(const std::string& name, const std::string& xl) {
  const RunResult r = run_captured({xl, "domid", name});
  if (!ok(r)) return std::nullopt;
  uint32_t id = 0;
  const std::string s = last_line(r.output);
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || p != s.data() + s.size() || id == 0) return std::nullopt;
  return id;
}

bool XenPod::alive() const { return !name_.empty() && find(name_, xl_) == domid_; }

std::optional<std::string> XenPod::attach_disk(uint32_t index, const std::string& image, const std::string& script) {
  if (index >= 26) return "no disk name left (xvda..xvdz)";
  if (image.find(',') != std::string::npos || script.find(',') != std::string::npos)
    return "a disk path holds a comma";
  // `target=` must come last: xl takes the rest of the spec as the path.
  const std::string spec = "format=raw,vdev=" + disk_name(index) + ",access=ro,backendtype=phy,script=" + script +
                           ",target=" + image;
  const RunResult r = run_captured({xl_, "block-attach", std::to_string(domid_), spec});
  if (!ok(r)) return "xl block-attach " + spec + " failed: " + one_line(r.output);
  return std::nullopt;
}

void XenPod::detach_disk(uint32_t index) {
  if (index >= 26 || name_.empty()) return;
  (void)run_captured({xl_, "block-detach", std::to_string(domid_), disk_name(index)});
}

void XenPod::destroy() {
  if (name_.empty()) return;
  (void)run_captured({xl_, "destroy", std::to_string(domid_)});
  // A domain whose pages are still mapped by a backend lingers as a zombie until they are unmapped; wait a while.
  const auto until = Clock::now() + std::chrono::seconds(10);
  while (alive() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  name_.clear();
}

std::optional<std::string> build_rootfs_image(const std::string& dir, const std::string& image, uint64_t& millis) {
  const auto t0 = Clock::now();
  ::unlink(image.c_str());
  // Uncompressed (no -z): the zone kernel needs no decompressor and the build is a copy. -E noinline_data keeps
  // tails in whole blocks (fewer corner cases in older kernels' EROFS).
  const RunResult r = run_captured({"mkfs.erofs", "-Enoinline_data", image, dir});
  millis = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
  if (!ok(r)) return "mkfs.erofs " + image + " " + dir + " failed: " + last_line(r.output);
  return std::nullopt;
}

}  // namespace xg::shim
