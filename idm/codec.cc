#include "idm/codec.h"

namespace xg::idm {
namespace {

template <typename T>
concept HasValidator = requires(const T& t, std::span<const std::byte> tail) {
  { t.valid(tail) } -> std::same_as<bool>;
};

template <typename Req>
bool run_validator(const Message& m) noexcept {
  if constexpr (HasValidator<Req>) return m.fixed<Req>().valid(m.tail<Req>());
  return true;
}

// The per-opcode validator, if the request struct declares one.
bool valid_fields(const Message& m) noexcept {
  switch (m.op()) {
#define IDM_VALIDATE_CASE(name, code, kind, effect, req, rsp, req_tail, rsp_tail)  \
  case Op::name:                                                           \
    return run_validator<req>(m);
    IDM_MESSAGES(IDM_VALIDATE_CASE)
#undef IDM_VALIDATE_CASE
  }
  return false;
}

}  // namespace

Result<Message> decode(std::span<const std::byte> bytes, Direction dir, Path path) noexcept {
  Message m;
  if (bytes.size() < sizeof(MsgHeader)) return Error::kTruncated;
  std::memcpy(&m.header, bytes.data(), sizeof m.header);
  const MsgHeader& h = m.header;
  if (h.magic != kMsgMagic) return Error::kBadMagic;
  if (h.version != kProtocolVersion) return Error::kBadVersion;
  m.info = find_op(h.opcode);
  if (m.info == nullptr) return Error::kUnknownOpcode;
  if ((m.info->kind == Kind::kControl) != (path == Path::kSocket)) return Error::kUnknownOpcode;
  const bool response = dir == Direction::kResponse;
  if (h.flags != (response ? kFlagResponse : 0u)) return Error::kBadFlags;
  if (response && m.info->kind == Kind::kPost) return Error::kUnknownOpcode;  // posts are never answered
  if (!response && h.result != 0) return Error::kInvalidField;
  const size_t available = bytes.size() - sizeof(MsgHeader);
  if (h.length != available) return Error::kBadLength;
  m.payload = bytes.subspan(sizeof(MsgHeader), h.length);
  if (response && h.result != 0) {
    // An error response carries no payload.
    return h.length == 0 ? Result<Message>(m) : Result<Message>(Error::kBadLength);
  }
  const uint32_t fixed = response ? m.info->response_bytes : m.info->request_bytes;
  const uint32_t max_tail = response ? m.info->max_response_tail : m.info->max_request_tail;
  if (h.length < fixed) return Error::kTruncated;
  if (h.length - fixed > max_tail) return Error::kTailTooLong;
  if (!response && !valid_fields(m)) return Error::kInvalidField;
  return m;
}

Result<size_t> encode(std::span<std::byte> out, const MsgHeader& h, std::span<const std::byte> fixed,
                      std::span<const std::byte> tail) noexcept {
  const size_t n = sizeof h + fixed.size() + tail.size();
  if (n > out.size() || fixed.size() + tail.size() != h.length) return Error::kBadLength;
  std::memcpy(out.data(), &h, sizeof h);
  if (!fixed.empty()) std::memcpy(out.data() + sizeof h, fixed.data(), fixed.size());
  if (!tail.empty()) std::memcpy(out.data() + sizeof h + fixed.size(), tail.data(), tail.size());
  return n;
}

}  // namespace xg::idm
