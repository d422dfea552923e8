// The IDM wire format: a fixed header, then one payload layout per opcode. Every message is declared once, in
// the table of messages.h; the encoder (zone side), the decoder+validator (proxy side), dispatch, names and fuzz seeds
// are all driven by that table (codec.h). Nobody hand-writes a decoder.
//
// Payload structs are plain, trivially-copyable, padding-free (has_unique_object_representations) and
// size-checked; no bitfields, no pointers into shared memory. A payload is the fixed struct, optionally
// followed by a variable-length tail bounded per opcode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "idm/messages.h"

namespace xg::idm {

inline constexpr uint32_t kMsgMagic = 0x314d4449;  // "IDM1" little-endian
inline constexpr uint16_t kProtocolVersion = 1;

enum MsgFlags : uint32_t {
  kFlagResponse = 1u << 0,
  kFlagsKnown = kFlagResponse,
};

struct MsgHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t opcode;
  uint32_t seq;     // request's sequence number; a response carries it back
  uint32_t length;  // payload bytes after the header
  uint32_t flags;
  uint32_t result;  // CUresult in responses; 0 in requests
};
static_assert(sizeof(MsgHeader) == 24);
static_assert(std::has_unique_object_representations_v<MsgHeader>);

// How an opcode travels.
enum class Kind : uint8_t {
  kCall,     // request then response; the caller waits
  kPost,     // fire-and-forget on the ring; errors surface at the next synchronising call
  kControl,  // registration over the Unix socket, not the rings
};

// What an opcode does to the driver's queues, for the worker.
enum class Effect : uint8_t {
  kPlain,     // neither of the below
  kSyncs,     // a synchronising call: errors of earlier posts are reported at it, as the driver does
  kGpu,       // submits GPU work (launches, copies, memsets): gated by the time slicer
  kSyncsGpu,  // both (the synchronous copies and memsets)
};
[[nodiscard]] constexpr bool synchronises(Effect e) noexcept { return e == Effect::kSyncs || e == Effect::kSyncsGpu; }
[[nodiscard]] constexpr bool submits_gpu_work(Effect e) noexcept { return e == Effect::kGpu || e == Effect::kSyncsGpu; }

enum class Op : uint16_t {
#define IDM_OP_ENUM(name, code, kind, effect, req, rsp, req_tail, rsp_tail) name = code,
  IDM_MESSAGES(IDM_OP_ENUM)
#undef IDM_OP_ENUM
};

// Per-opcode facts, generated from the table. Several opcodes may share a payload struct, so everything is
// keyed by the opcode: OpTraits<Op::MemAlloc>::Request, send_request<Op::MemAlloc>(...), and handlers receive
// an OpTag<Op::X> first.
template <Op op>
struct OpTraits;
#define IDM_OP_TRAITS(name, code, kind_, effect_, req, rsp, req_tail, rsp_tail) \
  template <>                                                          \
  struct OpTraits<Op::name> {                                          \
    using Request = req;                                               \
    using Response = rsp;                                              \
    static constexpr Kind kind = Kind::kind_;                          \
    static constexpr Effect effect = Effect::effect_;                  \
    static constexpr uint32_t max_request_tail = req_tail;             \
    static constexpr uint32_t max_response_tail = rsp_tail;            \
  };
IDM_MESSAGES(IDM_OP_TRAITS)
#undef IDM_OP_TRAITS

template <Op op>
using OpTag = std::integral_constant<Op, op>;

// Bytes a payload struct occupies on the wire (an empty struct occupies none).
template <typename T>
inline constexpr uint32_t kWireSize = std::is_empty_v<T> ? 0 : static_cast<uint32_t>(sizeof(T));

template <typename T>
inline constexpr bool kWireSafe =
    std::is_trivially_copyable_v<T> && (std::is_empty_v<T> || (std::has_unique_object_representations_v<T> &&
                                                                 sizeof(T) % 4 == 0));

// Every struct named in the table obeys the wire rules.
#define IDM_CHECK_WIRE(name, code, kind, effect, req, rsp, req_tail, rsp_tail)     \
  static_assert(kWireSafe<req>, #req " must be a padding-free trivially-copyable struct"); \
  static_assert(kWireSafe<rsp>, #rsp " must be a padding-free trivially-copyable struct");
IDM_MESSAGES(IDM_CHECK_WIRE)
#undef IDM_CHECK_WIRE

// Facts about an opcode found at run time (decoder, logs, fuzz seeds).
struct OpInfo {
  Op op;
  const char* name;
  Kind kind;
  Effect effect;
  uint32_t request_bytes;   // fixed part
  uint32_t response_bytes;  // fixed part
  uint32_t max_request_tail;
  uint32_t max_response_tail;
};

[[nodiscard]] const OpInfo* find_op(uint16_t opcode) noexcept;
[[nodiscard]] std::span<const OpInfo> all_ops() noexcept;
[[nodiscard]] const char* op_name(uint16_t opcode) noexcept;

}  // namespace xg::idm
