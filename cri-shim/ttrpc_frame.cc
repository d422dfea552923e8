#include "cri-shim/ttrpc_frame.h"

#include <cstring>

namespace xg::shim {
namespace {

uint32_t load_be32(const std::byte* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

void store_be32(std::byte* p, uint32_t v) {
  p[0] = std::byte(v >> 24);
  p[1] = std::byte(v >> 16);
  p[2] = std::byte(v >> 8);
  p[3] = std::byte(v);
}

}  // namespace

std::array<std::byte, kTtrpcHeaderBytes> encode_ttrpc_header(uint32_t length, uint32_t stream_id, TtrpcType type,
                                                              uint8_t flags) {
  std::array<std::byte, kTtrpcHeaderBytes> h{};
  store_be32(h.data(), length);
  store_be32(h.data() + 4, stream_id);
  h[8] = std::byte(static_cast<uint8_t>(type));
  h[9] = std::byte(flags);
  return h;
}

std::string encode_ttrpc_frame(uint32_t stream_id, TtrpcType type, std::string_view body) {
  const auto h = encode_ttrpc_header(static_cast<uint32_t>(body.size()), stream_id, type);
  std::string out(reinterpret_cast<const char*>(h.data()), h.size());
  out.append(body);
  return out;
}

void TtrpcFrameReader::feed(std::span<const std::byte> bytes) {
  if (failed()) return;
  // Compact before growing: the buffer never holds more than one partial frame plus what one read brought.
  if (start_ > 0) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

std::optional<TtrpcFrame> TtrpcFrameReader::next() {
  if (failed()) return std::nullopt;
  const size_t avail = buf_.size() - start_;
  if (avail < kTtrpcHeaderBytes) return std::nullopt;
  const std::byte* h = buf_.data() + start_;
  const uint32_t length = load_be32(h);
  // Bound the length before waiting for (and buffering) the body.
  if (length > kTtrpcMaxMessageBytes) {
    error_ = "message of " + std::to_string(length) + " bytes exceeds ttrpc's maximum of " +
             std::to_string(kTtrpcMaxMessageBytes);
    return std::nullopt;
  }
  if (avail - kTtrpcHeaderBytes < length) return std::nullopt;
  TtrpcFrame f;
  f.stream_id = load_be32(h + 4);
  f.type = static_cast<uint8_t>(h[8]);
  f.flags = static_cast<uint8_t>(h[9]);
  f.body.assign(reinterpret_cast<const char*>(h + kTtrpcHeaderBytes), length);
  start_ += kTtrpcHeaderBytes + length;
  return f;
}

}  // namespace xg::shim
