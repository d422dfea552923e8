#include "idm/channel.h"

#include <bit>
#include <cstring>
#include <new>

namespace xg::idm {
namespace {

constexpr uint64_t page_round(uint64_t n) { return (n + kPageBytes - 1) / kPageBytes * kPageBytes; }

struct Offsets {
  uint64_t req_control, req_data, rsp_control, rsp_data, data, end;
};

Offsets offsets(const ChannelGeometry& g) {
  Offsets o{};
  o.req_control = kPageBytes;
  o.req_data = o.req_control + kPageBytes;
  o.rsp_control = o.req_data + page_round(g.request_ring_bytes);
  o.rsp_data = o.rsp_control + kPageBytes;
  o.data = o.rsp_data + page_round(g.response_ring_bytes);
  o.end = o.data + g.data_bytes();
  return o;
}

bool ring_ok(uint32_t bytes, uint32_t max_payload) {
  return bytes >= kPageBytes && bytes <= ChannelGeometry::kMaxRingBytes && std::has_single_bit(bytes) &&
         RingView::record_bytes(max_payload) <= bytes / 2;
}

}  // namespace

bool ChannelGeometry::valid() const noexcept {
  return max_payload >= 256 && max_payload <= kMaxRingBytes / 2 && ring_ok(request_ring_bytes, max_payload) &&
         ring_ok(response_ring_bytes, max_payload) && data_pages <= kMaxDataPages;
}

uint64_t ChannelGeometry::total_bytes() const noexcept { return offsets(*this).end; }

void Channel::format(std::span<std::byte> region, const ChannelGeometry& geometry) noexcept {
  ChannelHeader h{kChannelMagic, 1, geometry};
  std::memcpy(region.data(), &h, sizeof h);
}

Result<Channel> Channel::attach(std::span<std::byte> region, const ChannelGeometry& geometry, Role role,
                                Doorbell* doorbell) {
  if (!geometry.valid() || doorbell == nullptr) return Error::kInvalidField;
  const Offsets o = offsets(geometry);
  if (region.size() < o.end) return Error::kBadLength;
  auto* base = region.data();
  // The control blocks live in shared memory created by the transport (zero-filled pages); std::atomic of
  // integral type is trivially default-constructible, so viewing zeroed pages as RingControl is well-defined.
  RingView req{std::launder(reinterpret_cast<RingControl*>(base + o.req_control)), base + o.req_data,
               geometry.request_ring_bytes, geometry.max_payload};
  RingView rsp{std::launder(reinterpret_cast<RingControl*>(base + o.rsp_control)), base + o.rsp_data,
               geometry.response_ring_bytes, geometry.max_payload};
  Channel c;
  c.geometry_ = geometry;
  c.doorbell_ = doorbell;
  const SpinPolicy policy = SpinPolicy::from_env();
  if (role == Role::kZone) {
    c.tx_ = RingProducer(req, doorbell, policy);
    c.rx_ = RingConsumer(rsp, doorbell, policy);
  } else {
    c.tx_ = RingProducer(rsp, doorbell, policy);
    c.rx_ = RingConsumer(req, doorbell, policy);
  }
  c.data_ = region.subspan(o.data, geometry.data_bytes());
  return c;
}

Result<std::unique_ptr<Endpoint>> make_endpoint(std::unique_ptr<SharedMemory> memory,
                                                std::unique_ptr<Doorbell> doorbell, const ChannelGeometry& geometry,
                                                Role role) {
  auto ep = std::make_unique<Endpoint>();
  ep->memory = std::move(memory);
  ep->doorbell = std::move(doorbell);
  auto ch = Channel::attach(ep->memory->bytes(), geometry, role, ep->doorbell.get());
  if (!ch) return ch.error();
  ep->channel = std::move(ch.value());
  return ep;
}

}  // namespace xg::idm
