#include "idm/ring.h"

namespace xg::idm {
namespace {

std::atomic_ref<uint64_t> stamp_at(const RingView& v, uint64_t pos) noexcept {
  auto* hdr = reinterpret_cast<RecordHeader*>(v.data + (pos & (v.capacity - 1)));
  return std::atomic_ref<uint64_t>(hdr->stamp);
}

// One wake-up per sleep: whoever clears the peer's "sleeping" flag rings its bell. A peer that has been woken but
// not yet run keeps its flag set, and without the exchange every record published or consumed meanwhile would ring
// again: a system call each over shm, a hypercall each over Xen (under QEMU/TCG that storm held a domU's
// fire-and-forget messages to ~3 k/s). The plain load first keeps the common case (peer awake) free of a locked
// write to the peer's line. `order` is the caller's: seq_cst for data (the Dekker pairing with await()), relaxed
// for space (deliberately fence-free, see try_pop).
void wake_if_sleeping(std::atomic<uint32_t>& sleeping, std::atomic<uint32_t>& bell, Doorbell& doorbell,
                      std::memory_order order) noexcept {
  if (sleeping.load(order) != 0 && sleeping.exchange(0, order) != 0) {
    bell.fetch_add(1, std::memory_order_release);
    doorbell.notify(bell);
  }
}

}  // namespace

void ring_copy_in(const RingView& v, uint64_t pos, std::span<const std::byte> src) noexcept {
  if (src.empty()) return;
  const uint32_t off = static_cast<uint32_t>(pos & (v.capacity - 1));
  const size_t first = std::min<size_t>(src.size(), v.capacity - off);
  std::memcpy(v.data + off, src.data(), first);
  if (first < src.size()) std::memcpy(v.data, src.data() + first, src.size() - first);
}

void ring_copy_out(const RingView& v, uint64_t pos, std::span<std::byte> dst) noexcept {
  if (dst.empty()) return;
  const uint32_t off = static_cast<uint32_t>(pos & (v.capacity - 1));
  const size_t first = std::min<size_t>(dst.size(), v.capacity - off);
  std::memcpy(dst.data(), v.data + off, first);
  if (first < dst.size()) std::memcpy(dst.data() + first, v.data, dst.size() - first);
}

Error RingProducer::room_for(uint32_t bytes) noexcept {
  if (prod_ - cons_cache_ + bytes <= v_.capacity) return Error::kOk;
  // 2. peer's cons: acquire, so the consumer's copy-out of the records it freed happens before we overwrite.
  const uint64_t cons = v_.control->cons.load(std::memory_order_acquire);
  // The peer's index is input: it may not claim to have consumed more than we produced, nor fall behind by
  // more than the ring holds (netback's "impossible" check).
  if (prod_ - cons > v_.capacity || cons < cons_cache_) return Error::kPeerImpossible;
  cons_cache_ = cons;
  return prod_ - cons_cache_ + bytes <= v_.capacity ? Error::kOk : Error::kEmpty;
}

Error RingProducer::try_push(std::span<const std::span<const std::byte>> parts) noexcept {
  size_t len = 0;
  for (auto p : parts) len += p.size();
  if (len > v_.max_payload) return Error::kBadLength;
  const uint32_t bytes = RingView::record_bytes(static_cast<uint32_t>(len));
  if (Error e = room_for(bytes); e != Error::kOk) return e;

  auto* hdr = reinterpret_cast<RecordHeader*>(v_.data + (prod_ & (v_.capacity - 1)));
  hdr->length = static_cast<uint32_t>(len);
  hdr->reserved = 0;
  uint64_t pos = prod_ + kRecordHeaderBytes;
  for (auto p : parts) {
    ring_copy_in(v_, pos, p);
    pos += p.size();
  }
  // 3. publish: the header and payload bytes must be visible before the stamp says "ready" (release), and the
  // stamp before our load of the consumer's sleeping flag (Dekker with await()). A seq_cst exchange gives both
  // in one locked instruction, cheaper than a store plus a separate fence on every message.
  stamp_at(v_, prod_).exchange(prod_ + 1, std::memory_order_seq_cst);
  prod_ += bytes;
  // The exchange in wake_if_sleeping is itself seq_cst, so the Dekker pairing with await() still holds.
  wake_if_sleeping(v_.control->cons_sleeping, v_.control->data_bell, *bell_, std::memory_order_seq_cst);
  return Error::kOk;
}

Error RingProducer::push(std::span<const std::span<const std::byte>> parts,
                         std::chrono::steady_clock::time_point deadline) noexcept {
  for (;;) {
    Error e = try_push(parts);
    if (e != Error::kEmpty) return e;
    size_t len = 0;
    for (auto p : parts) len += p.size();
    const uint32_t bytes = RingView::record_bytes(static_cast<uint32_t>(len));
    bool impossible = false;
    e = await(
        [&] {
          Error r = room_for(bytes);
          impossible = r == Error::kPeerImpossible;
          return r != Error::kEmpty;
        },
        v_.control->prod_sleeping, v_.control->space_bell, *bell_, space_policy_, deadline);
    if (impossible) return Error::kPeerImpossible;
    if (e != Error::kOk) return e;
  }
}

bool RingConsumer::ready() const noexcept {
  // 2. peer's work: acquire pairs with the producer's release of the stamp.
  return stamp_at(v_, cons_).load(std::memory_order_acquire) == cons_ + 1;
}

Result<uint32_t> RingConsumer::try_pop(std::span<std::byte> out) noexcept {
  if (!ready()) return Error::kEmpty;
  // Copy the length out once; every later decision uses this private copy.
  uint32_t len;
  std::memcpy(&len, v_.data + (cons_ & (v_.capacity - 1)) + offsetof(RecordHeader, length), sizeof len);
  if (len > v_.max_payload || len > out.size()) return Error::kPeerImpossible;
  ring_copy_out(v_, cons_ + kRecordHeaderBytes, out.first(len));
  cons_ += RingView::record_bytes(len);
  // 4. publish consumption: release, so our copy-out completes before the producer may reuse the bytes.
  v_.control->cons.store(cons_, std::memory_order_release);
  // Space wake-ups are deliberately fence-free: a full ring is rare, so we do not pay a StoreLoad barrier on
  // every message for it. The rare lost wake-up costs the producer at most one space_policy_ sleep slice (1 ms).
  wake_if_sleeping(v_.control->prod_sleeping, v_.control->space_bell, *bell_, std::memory_order_relaxed);
  return len;
}

Result<uint32_t> RingConsumer::pop(std::span<std::byte> out, std::chrono::steady_clock::time_point deadline) noexcept {
  Result<uint32_t> r = try_pop(out);
  if (r.ok() || r.error() != Error::kEmpty) return r;
  Error e = await([&] { return ready(); }, v_.control->cons_sleeping, v_.control->data_bell, *bell_, policy_,
                  deadline);
  if (e != Error::kOk) return e;
  return try_pop(out);
}

Error RingConsumer::wait_ready(std::chrono::steady_clock::time_point deadline,
                               const std::atomic<bool>& woken) noexcept {
  return await([&] { return ready() || woken.load(std::memory_order_acquire); }, v_.control->cons_sleeping,
               v_.control->data_bell, *bell_, policy_, deadline);
}

void RingConsumer::interrupt() noexcept { bell_->interrupt(v_.control->data_bell); }

}  // namespace xg::idm
