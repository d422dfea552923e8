#include "idm/testing/transport_peer.h"

#include <cstring>
#include <string>

#include "idm/log.h"

namespace xg::idm {
namespace {

constexpr uint32_t kCudaErrorInvalidValue = 1;  // CUDA_ERROR_INVALID_VALUE

struct Handler {
  Channel& ch;
  ConformanceStats& st;
  std::vector<std::byte>& own;
  std::span<std::byte> device;

  // Everything that is not conformance traffic (control messages never reach a ring; CUDA calls belong to the
  // real worker) is refused with an error answer.
  template <Op op, typename Req>
  Error operator()(OpTag<op>, const MsgHeader& h, const Req&, std::span<const std::byte>) {
    ++st.rejected;
    if constexpr (OpTraits<op>::kind == Kind::kCall) return send_response(ch.tx(), h, 801 /*NOT_SUPPORTED*/, Empty{});
    return Error::kOk;
  }
  Error operator()(OpTag<Op::Ping>, const MsgHeader& h, const PingReq& r, std::span<const std::byte>) {
    return send_response(ch.tx(), h, 0, PingRsp{r.token});
  }
  Error operator()(OpTag<Op::Echo>, const MsgHeader& h, const EchoReq& r, std::span<const std::byte> tail) {
    return send_response(ch.tx(), h, 0, EchoRsp{fnv1a(tail), 0}, tail);
  }
  Error operator()(OpTag<Op::Nop>, const MsgHeader&, const NopPost& r, std::span<const std::byte>) {
    ++st.nops;
    st.nop_checksum = mix_nop(st.nop_checksum, r.value);
    return Error::kOk;
  }
  Error operator()(OpTag<Op::BulkPut>, const MsgHeader& h, const BulkPutReq& r, std::span<const std::byte>) {
    const auto data = ch.data();
    // Bounds from the private copy, overflow-safe: offset <= size and length <= size - offset.
    if (r.offset > data.size() || r.length > data.size() - r.offset) {
      ++st.rejected;
      log_line("conformance: BulkPut range outside the data area");
      return send_response(ch.tx(), h, kCudaErrorInvalidValue, BulkPutRsp{});
    }
    std::span<std::byte> dst;
    if (r.length <= device.size()) {
      const uint64_t at = st.bulk_bytes % device.size();
      dst = device.subspan(at + r.length <= device.size() ? at : 0, r.length);
    } else {
      if (own.size() < r.length) own.resize(r.length);
      dst = std::span(own).first(r.length);
    }
    // The zone may scribble on these bytes while we copy: harmless, they are payload, not control.
    std::memcpy(dst.data(), data.data() + r.offset, r.length);
    st.bulk_bytes += r.length;
    uint32_t sum = (r.flags & kBulkWantChecksum) ? fnv1a(dst) : 0;
    return send_response(ch.tx(), h, 0, BulkPutRsp{sum, 0});
  }
};

}  // namespace

ConformanceStats serve_conformance(Channel& channel, const std::atomic<bool>& stop, std::span<std::byte> device) {
  ConformanceStats st;
  std::vector<std::byte> buf(channel.geometry().max_payload);
  std::vector<std::byte> own;
  Handler handler{channel, st, own, device};
  while (!stop.load(std::memory_order_relaxed)) {
    auto n = channel.rx().pop(buf, std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
    if (!n) {
      if (n.error() == Error::kTimeout) continue;
      st.ended_by = n.error();
      break;
    }
    ++st.requests;
    auto m = decode(std::span(buf).first(*n), Direction::kRequest, Path::kRing);
    if (!m) {
      ++st.rejected;
      log_line(std::string("conformance: rejected request: ") + std::string(error_name(m.error())));
      continue;  // a bad request costs the zone its answer, never the server
    }
    if (Error e = dispatch(*m, handler); e != Error::kOk && e != Error::kUnknownOpcode) {
      st.ended_by = e;
      break;
    }
  }
  return st;
}

Result<Message> ConformanceClient::receive() {
  auto n = ch_.rx().pop(rx_);
  if (!n) return n.error();
  return decode(std::span(rx_).first(*n), Direction::kResponse, Path::kRing);
}

Result<uint64_t> ConformanceClient::ping(uint64_t token) {
  if (Error e = send<Op::Ping>(PingReq{token}); e != Error::kOk) return e;
  auto m = receive();
  if (!m) return m.error();
  if (m->header.seq != last_seq() || m->op() != Op::Ping || m->header.result != 0) return Error::kInvalidField;
  return m->fixed<PingRsp>().token;
}

Result<uint32_t> ConformanceClient::echo(std::span<const std::byte> tail) {
  if (Error e = send<Op::Echo>(EchoReq{fnv1a(tail), 0}, tail); e != Error::kOk) return e;
  auto m = receive();
  if (!m) return m.error();
  if (m->header.seq != last_seq() || m->op() != Op::Echo || m->header.result != 0) return Error::kInvalidField;
  auto back = m->tail<EchoRsp>();
  if (back.size() != tail.size() || std::memcmp(back.data(), tail.data(), tail.size()) != 0)
    return Error::kInvalidField;
  return m->fixed<EchoRsp>().checksum;
}

Error ConformanceClient::post_nop(uint64_t value) { return send<Op::Nop>(NopPost{value}); }

Result<uint32_t> ConformanceClient::bulk_put(uint64_t offset, uint64_t length, bool want_checksum) {
  if (Error e = send<Op::BulkPut>(BulkPutReq{offset, length, want_checksum ? kBulkWantChecksum : 0u, 0}); e != Error::kOk)
    return e;
  auto m = receive();
  if (!m) return m.error();
  if (m->header.seq != last_seq() || m->op() != Op::BulkPut) return Error::kInvalidField;
  if (m->header.result != 0) return Error::kInvalidField;
  return m->fixed<BulkPutRsp>().checksum;
}

}  // namespace xg::idm
