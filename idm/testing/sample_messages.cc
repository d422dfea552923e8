#include "idm/testing/sample_messages.h"

#include <cstring>

namespace xg::idm {
namespace {

// A request struct with fields a validator accepts, plus a tail where the opcode takes one.
template <Op op>
std::vector<std::byte> sample_tail() {
  if constexpr (OpTraits<op>::max_request_tail == 0) return {};
  if constexpr (op == Op::CtlStart) {  // a gid, an rlimit, two mounts, a filter: the tail's binary part is in the seeds
    CtlStartStrings s;
    s.id = "c1";
    s.cwd = "/";
    s.argv = {"true"};
    s.env = {"PATH=/bin"};
    s.groups = {1000};
    s.rlimits = {CtlRlimit{7, 0, 1024, 4096}};
    s.mounts = {CtlMountEntry{CtlMount{static_cast<uint32_t>(CtlMountKind::kImage), kCtlMountRo, 0, 0, 0}, "0", "/etc/hosts"},
                CtlMountEntry{CtlMount{static_cast<uint32_t>(CtlMountKind::kTmpfs), kCtlMountDir, 1 << 20, 01777, 0}, "", "/tmp"}};
    s.filter = {CtlFilterInsn{0x06, 0, 0, 0x7fff0000}};  // BPF_RET|BPF_K SECCOMP_RET_ALLOW
    return encode_ctl_start(s);
  }
  std::vector<std::byte> t(std::min<uint32_t>(OpTraits<op>::max_request_tail, 24));
  for (size_t i = 0; i < t.size(); ++i) t[i] = std::byte('a' + i % 26);
  return t;
}

// Field values each opcode's validator accepts.
template <Op op>
typename OpTraits<op>::Request sample_fixed(std::span<const std::byte> tail) {
  typename OpTraits<op>::Request r{};
  using Req = decltype(r);
  if constexpr (std::is_same_v<Req, HelloReq>) r.protocol_version = kProtocolVersion;
  if constexpr (std::is_same_v<Req, EchoReq>) r.checksum = fnv1a(tail);
  if constexpr (std::is_same_v<Req, MemcpyHtoDReq>) r.bytes = tail.size();
  if constexpr (std::is_same_v<Req, MemsetReq>) r.element_bytes = 4;
  if constexpr (std::is_same_v<Req, MemHostAllocReq>) {  // lent pages: one directory ref per 1024 pages
    r.pages_from = static_cast<uint32_t>(HostPages::kLent);
    r.bytes = tail.size() / sizeof(uint32_t) * kLendRefsPerDirPage * 4096;
  }
  if constexpr (std::is_same_v<Req, CtlStartReq>) {
    r.proc_id = 1;
    r.argc = 1;
    r.envc = 1;
    r.ngroups = 1;
    r.nrlimits = 1;
    r.nmounts = 2;
    r.mounts_disk = 1;
    r.nfilter = 1;
    r.filter_flags = kCtlFilterLog;
    r.flags = kCtlStartCaps | kCtlStartNoNewPrivs;
    r.caps = CtlCaps{0x21, 0x21, 0x21, 0, 0};
    r.resources.memory_max = 64 << 20;
  }
  if constexpr (std::is_same_v<Req, CtlSignalReq>) r.signal = 15;
  if constexpr (std::is_same_v<Req, CtlSignalReq> || std::is_same_v<Req, CtlStdinReq> ||
                std::is_same_v<Req, CtlProcReq> || std::is_same_v<Req, CtlResizeReq> ||
                std::is_same_v<Req, CtlUpdateReq> || std::is_same_v<Req, CtlFreezeReq>)
    r.proc_id = 1;
  if constexpr (std::is_same_v<Req, CtlUpdateReq>) {
    r.resources.memory_max = 64 << 20;
    r.unlimit = kCtlUnlimitPids;
  }
  if constexpr (std::is_same_v<Req, CtlResizeReq>) {
    r.cols = 80;
    r.rows = 24;
  }
  if constexpr (std::is_same_v<Req, CtlPollReq>) r.max_bytes = 4096;
  if constexpr (std::is_same_v<Req, LaunchReq>) {
    r.grid[0] = r.grid[1] = r.grid[2] = r.block[0] = r.block[1] = r.block[2] = 1;
    r.param_bytes = static_cast<uint32_t>(tail.size());
  }
  return r;
}

std::vector<std::byte> whole(const MsgHeader& h, std::span<const std::byte> fixed, std::span<const std::byte> tail) {
  std::vector<std::byte> out(sizeof h + fixed.size() + tail.size());
  (void)encode(out, h, fixed, tail);
  return out;
}

template <Op op>
Sample make_sample() {
  using T = OpTraits<op>;
  using Req = typename T::Request;
  using Rsp = typename T::Response;
  Sample s{find_op(static_cast<uint16_t>(op)), {}, {}};
  auto tail = sample_tail<op>();
  Req req = sample_fixed<op>(tail);
  s.request = whole(make_header(op, 42, static_cast<uint32_t>(kWireSize<Req> + tail.size()), 0, 0),
                    bytes_of(req), tail);
  if constexpr (T::kind != Kind::kPost) {
    Rsp rsp{};
    s.response = whole(make_header(op, 42, kWireSize<Rsp>, kFlagResponse, 0), bytes_of(rsp), {});
  }
  return s;
}

}  // namespace

std::vector<Sample> sample_messages() {
  std::vector<Sample> v;
#define IDM_SAMPLE(name, code, kind, effect, req, rsp, req_tail, rsp_tail) v.push_back(make_sample<Op::name>());
  IDM_MESSAGES(IDM_SAMPLE)
#undef IDM_SAMPLE
  return v;
}

}  // namespace xg::idm
