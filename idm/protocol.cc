#include "idm/protocol.h"

#include <algorithm>
#include <array>

namespace xg::idm {
namespace {

constexpr OpInfo kOps[] = {
#define IDM_OP_INFO(name, code, kind, req, rsp, req_tail, rsp_tail) \
  {Op::name, #name, Kind::kind, kWireSize<req>, kWireSize<rsp>, req_tail, rsp_tail},
    IDM_MESSAGES(IDM_OP_INFO)
#undef IDM_OP_INFO
};

// Opcode -> index in kOps; opcodes are 16-bit so a flat table is 128 KiB... too big: use sorted lookup.
constexpr auto kSorted = [] {
  std::array<OpInfo, std::size(kOps)> a{};
  std::copy(std::begin(kOps), std::end(kOps), a.begin());
  std::sort(a.begin(), a.end(), [](const OpInfo& x, const OpInfo& y) { return x.op < y.op; });
  return a;
}();

constexpr bool unique_opcodes() {
  for (size_t i = 1; i < kSorted.size(); ++i)
    if (kSorted[i - 1].op == kSorted[i].op) return false;
  return true;
}
static_assert(unique_opcodes(), "two rows of IDM_MESSAGES share an opcode");

}  // namespace

const OpInfo* find_op(uint16_t opcode) noexcept {
  auto it = std::lower_bound(kSorted.begin(), kSorted.end(), opcode,
                             [](const OpInfo& o, uint16_t c) { return static_cast<uint16_t>(o.op) < c; });
  return it != kSorted.end() && static_cast<uint16_t>(it->op) == opcode ? &*it : nullptr;
}

std::span<const OpInfo> all_ops() noexcept { return kSorted; }

const char* op_name(uint16_t opcode) noexcept {
  const OpInfo* o = find_op(opcode);
  return o ? o->name : "unknown";
}

uint32_t fnv1a(std::span<const std::byte> bytes) noexcept {
  uint32_t h = 2166136261u;
  for (std::byte b : bytes) h = (h ^ static_cast<uint8_t>(b)) * 16777619u;
  return h;
}

bool HelloReq::valid(std::span<const std::byte> tail) const noexcept {
  if (protocol_version != kProtocolVersion || tail.empty()) return false;
  return std::all_of(tail.begin(), tail.end(), [](std::byte b) {
    const char c = static_cast<char>(b);
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

bool EchoReq::valid(std::span<const std::byte> tail) const noexcept {
  return reserved == 0 && checksum == fnv1a(tail);
}

}  // namespace xg::idm
