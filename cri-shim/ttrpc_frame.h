// ttrpc's framing (github.com/containerd/ttrpc channel.go), written for our shim: every message is a 10-byte
// header (length and stream id as big-endian uint32, message type, flags) followed by `length` bytes of protobuf
// (a ttrpc.Request from the client, a ttrpc.Response back). Many streams share one connection: a Wait can stay
// open for minutes while other calls come and go on the same socket.
//
// The bytes come from whoever can reach the shim's socket (containerd, in practice; anything, in principle), so
// the reader bounds every length before it buffers a byte of the body. It is the one parser of untrusted framing
// in the shim and has a fuzz target (ttrpc_frame_fuzz.cc).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace xg::shim {

inline constexpr size_t kTtrpcHeaderBytes = 10;
// ttrpc's messageLengthMax: a longer message closes the connection here (ttrpc drops it and answers
// RESOURCE_EXHAUSTED; containerd never sends one, so a peer that does is not containerd).
inline constexpr uint32_t kTtrpcMaxMessageBytes = 4u << 20;

enum class TtrpcType : uint8_t { kRequest = 1, kResponse = 2 };

struct TtrpcFrame {
  uint32_t stream_id = 0;
  uint8_t type = 0;
  uint8_t flags = 0;
  std::string body;  // the message's bytes, copied out of the connection's buffer
};

[[nodiscard]] std::array<std::byte, kTtrpcHeaderBytes> encode_ttrpc_header(uint32_t length, uint32_t stream_id,
                                                                           TtrpcType type, uint8_t flags = 0);
// The header plus `body`, ready to write.
[[nodiscard]] std::string encode_ttrpc_frame(uint32_t stream_id, TtrpcType type, std::string_view body);

// Splits a byte stream into frames. feed() what arrived, then take next() until it answers nullopt (needs more
// bytes) or failed() (the peer broke the framing: close the connection).
class TtrpcFrameReader {
 public:
  void feed(std::span<const std::byte> bytes);
  [[nodiscard]] std::optional<TtrpcFrame> next();
  [[nodiscard]] bool failed() const { return !error_.empty(); }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  std::vector<std::byte> buf_;
  size_t start_ = 0;  // first unconsumed byte of buf_
  std::string error_;
};

}  // namespace xg::shim
