// A ttrpc server on a listening Unix socket: one reader thread per connection, one thread per call, so a call
// that blocks (Wait, for as long as a container runs) never holds up the others on the same connection.
// Responses are written whole under the connection's write lock. Handlers return a status, never throw across.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "idm/unique_fd.h"

namespace xg::shim {

// gRPC status codes, as ttrpc carries them (google.rpc.Code).
enum class RpcCode : int32_t {
  kOk = 0,
  kUnknown = 2,
  kInvalidArgument = 3,
  kNotFound = 5,
  kAlreadyExists = 6,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
};

struct RpcReply {
  RpcCode code = RpcCode::kOk;
  std::string message;  // why, when code != kOk
  std::string payload;  // the serialized response message, when code == kOk
};

[[nodiscard]] inline RpcReply rpc_error(RpcCode code, std::string why) { return {code, std::move(why), {}}; }

using RpcHandler = std::function<RpcReply(const std::string& service, const std::string& method,
                                          const std::string& payload)>;

// Turns one request frame body into the response frame body: parses the ttrpc.Request, calls `handler`, wraps
// the reply in a ttrpc.Response. Shared by the server and the fuzz target.
[[nodiscard]] std::string serve_ttrpc_request(const std::string& body, const RpcHandler& handler);

class TtrpcServer {
 public:
  TtrpcServer(idm::UniqueFd listener, RpcHandler handler);
  // Accepts and serves connections until stop(); returns then (calls in flight finish on their own threads).
  void serve();
  void stop();

 private:
  idm::UniqueFd listener_;
  idm::UniqueFd wake_read_, wake_write_;
  RpcHandler handler_;
};

}  // namespace xg::shim
