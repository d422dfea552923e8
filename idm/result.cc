#include "idm/result.h"

namespace xg::idm {

std::string_view error_name(Error e) noexcept {
  switch (e) {
    case Error::kOk: return "ok";
    case Error::kEmpty: return "empty";
    case Error::kTruncated: return "truncated";
    case Error::kBadMagic: return "bad-magic";
    case Error::kBadVersion: return "bad-version";
    case Error::kUnknownOpcode: return "unknown-opcode";
    case Error::kBadLength: return "bad-length";
    case Error::kTailTooLong: return "tail-too-long";
    case Error::kBadFlags: return "bad-flags";
    case Error::kInvalidField: return "invalid-field";
    case Error::kPeerImpossible: return "peer-impossible";
    case Error::kPeerGone: return "peer-gone";
    case Error::kTimeout: return "timeout";
    case Error::kSystem: return "system";
    case Error::kNoMemory: return "no-memory";
  }
  return "unknown-error";
}

}  // namespace xg::idm
