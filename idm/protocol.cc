#include "idm/protocol.h"

#include <algorithm>
#include <array>

namespace xg::idm {
namespace {

constexpr OpInfo kOps[] = {
#define IDM_OP_INFO(name, code, kind, effect, req, rsp, req_tail, rsp_tail) \
  {Op::name, #name, Kind::kind, Effect::effect, kWireSize<req>, kWireSize<rsp>, req_tail, rsp_tail},
    IDM_MESSAGES(IDM_OP_INFO)
#undef IDM_OP_INFO
};

// The rows sorted by opcode (all_ops() order).
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

// Opcode -> row, as a flat table: the decoder runs this on every message, so it must be a load, not a search.
constexpr uint16_t kMaxOpcode = 0x210;
constexpr auto kIndex = [] {
  std::array<int16_t, kMaxOpcode> idx{};
  idx.fill(-1);
  for (size_t i = 0; i < kSorted.size(); ++i) idx[static_cast<uint16_t>(kSorted[i].op)] = static_cast<int16_t>(i);
  return idx;
}();
static_assert([] {
  for (const OpInfo& o : kSorted)
    if (static_cast<uint16_t>(o.op) >= kMaxOpcode) return false;
  return true;
}(), "raise kMaxOpcode: an opcode is past the flat lookup table");

}  // namespace

const OpInfo* find_op(uint16_t opcode) noexcept {
  if (opcode >= kMaxOpcode) return nullptr;
  const int16_t i = kIndex[opcode];
  return i < 0 ? nullptr : &kSorted[static_cast<size_t>(i)];
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
