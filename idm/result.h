// Errors as values for the IDM layer. Exceptions never cross the wire or the C ABI.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <variant>

namespace xg::idm {

// Why a message or a peer was rejected. Every decoder path ends in one of these or success.
enum class Error : uint8_t {
  kOk = 0,
  kEmpty,            // nothing to read (not an error for a consumer)
  kTruncated,        // fewer bytes than the header or the fixed payload needs
  kBadMagic,
  kBadVersion,
  kUnknownOpcode,
  kBadLength,        // header length disagrees with the bytes, or exceeds a bound
  kTailTooLong,      // variable-length tail over the opcode's bound
  kBadFlags,
  kInvalidField,     // a per-opcode validator refused a field
  kPeerImpossible,   // the peer broke a ring invariant: close the channel (netback's fatal path)
  kPeerGone,         // the peer died or closed
  kTimeout,
  kSystem,           // a syscall failed; see errno in the log line
  kNoMemory,         // the transport could not provide memory (mmap, the grant allocator's limit)
};

[[nodiscard]] std::string_view error_name(Error e) noexcept;

// A value or an Error. Small on purpose: no allocation, no exceptions.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(e) {}                  // NOLINT(google-explicit-constructor)
  [[nodiscard]] bool ok() const noexcept { return std::holds_alternative<T>(v_); }
  explicit operator bool() const noexcept { return ok(); }
  [[nodiscard]] Error error() const noexcept { return ok() ? Error::kOk : std::get<Error>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace xg::idm
