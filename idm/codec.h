// Encoder, decoder+validator and dispatch, all driven by the table in messages.h.
//
// The decoder only ever sees a private copy of the bytes (RingConsumer::try_pop and the socket reader copy
// out of shared memory first). It checks, in order: header length, magic, version, opcode, flags, the header's
// length against the bytes, the fixed payload size, the tail bound, and finally the opcode's own validator
// (a `valid(tail)` member, where the struct has one). Only then does a handler see typed values.
#pragma once

#include <chrono>
#include <cstring>
#include <span>

#include "idm/protocol.h"
#include "idm/result.h"
#include "idm/ring.h"

namespace xg::idm {

enum class Direction : uint8_t { kRequest, kResponse };
enum class Path : uint8_t { kRing, kSocket };  // control messages travel only on the socket, the rest only on rings

// A validated message. `payload` points into the caller's private buffer, never into shared memory.
struct Message {
  MsgHeader header{};
  const OpInfo* info = nullptr;
  std::span<const std::byte> payload;

  [[nodiscard]] Op op() const noexcept { return static_cast<Op>(header.opcode); }
  template <typename T>
  [[nodiscard]] T fixed() const noexcept {
    T v{};
    if constexpr (kWireSize<T> > 0) std::memcpy(&v, payload.data(), kWireSize<T>);
    return v;
  }
  template <typename T>
  [[nodiscard]] std::span<const std::byte> tail() const noexcept {
    return payload.subspan(kWireSize<T>);
  }
};

[[nodiscard]] Result<Message> decode(std::span<const std::byte> bytes, Direction dir, Path path) noexcept;

inline MsgHeader make_header(Op op, uint32_t seq, uint32_t length, uint32_t flags, uint32_t result) noexcept {
  return MsgHeader{kMsgMagic, kProtocolVersion, static_cast<uint16_t>(op), seq, length, flags, result};
}

inline std::span<const std::byte> bytes_of(const auto& v) noexcept {
  return std::as_bytes(std::span(&v, 1)).first(kWireSize<std::remove_cvref_t<decltype(v)>>);
}

// Zone side: one request onto the request ring (header, fixed payload and tail gathered, no staging copy).
template <Op op>
[[nodiscard]] Error send_request(RingProducer& ring, uint32_t seq, const typename OpTraits<op>::Request& req,
                                 std::span<const std::byte> tail = {},
                                 std::chrono::steady_clock::time_point deadline = kForever) noexcept {
  using T = OpTraits<op>;
  using Req = typename T::Request;
  static_assert(T::kind != Kind::kControl, "control messages go over the registration socket");
  if (tail.size() > T::max_request_tail) return Error::kTailTooLong;
  const MsgHeader h = make_header(op, seq, static_cast<uint32_t>(kWireSize<Req> + tail.size()), 0, 0);
  std::span<const std::byte> parts[3] = {bytes_of(h), bytes_of(req), tail};
  return ring.push(parts, deadline);
}

// Proxy side: the response to `request` (a success with its payload and tail, or an error with none).
[[nodiscard]] inline Error send_response_bytes(RingProducer& ring, const MsgHeader& request, uint32_t result,
                                               std::span<const std::byte> fixed, std::span<const std::byte> tail = {},
                                               std::chrono::steady_clock::time_point deadline = kForever) noexcept {
  const bool ok = result == 0;
  const uint32_t len = ok ? static_cast<uint32_t>(fixed.size() + tail.size()) : 0;
  const MsgHeader h = make_header(static_cast<Op>(request.opcode), request.seq, len, kFlagResponse, result);
  std::span<const std::byte> parts[3] = {bytes_of(h), ok ? fixed : std::span<const std::byte>{},
                                         ok ? tail : std::span<const std::byte>{}};
  return ring.push(parts, deadline);
}

template <typename Rsp>
[[nodiscard]] Error send_response(RingProducer& ring, const MsgHeader& request, uint32_t result, const Rsp& rsp,
                                  std::span<const std::byte> tail = {},
                                  std::chrono::steady_clock::time_point deadline = kForever) noexcept {
  return send_response_bytes(ring, request, result, bytes_of(rsp), tail, deadline);
}

// Encodes into a caller buffer (socket messages, tests, fuzz seeds). Returns bytes written or kBadLength.
[[nodiscard]] Result<size_t> encode(std::span<std::byte> out, const MsgHeader& h, std::span<const std::byte> fixed,
                                    std::span<const std::byte> tail = {}) noexcept;

// Calls handler(OpTag<op>, header, const Request&, tail) for the message's opcode. A missing overload is a
// compile error, which is how a new row in the table finds every place that must handle it.
template <typename Handler>
decltype(auto) dispatch(const Message& m, Handler&& handler) {
  switch (m.op()) {
#define IDM_DISPATCH_CASE(name, code, kind, effect, req, rsp, req_tail, rsp_tail) \
  case Op::name:                                                          \
    return handler(OpTag<Op::name>{}, m.header, m.fixed<req>(), m.tail<req>());
    IDM_MESSAGES(IDM_DISPATCH_CASE)
#undef IDM_DISPATCH_CASE
  }
  __builtin_unreachable();  // decode() admits only opcodes from the table
}

}  // namespace xg::idm
