// libFuzzer target: arbitrary bytes on the shim's ttrpc socket. The frame reader splits them (fed in uneven
// chunks), each request envelope is decoded, and its payload parsed as the request type its method names, as
// the task service's dispatch does, without acting on it.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

#include <google/protobuf/stubs/logging.h>

#include "cri-shim/proto/shim.pb.h"
#include "cri-shim/task_service.h"
#include "cri-shim/ttrpc_frame.h"
#include "cri-shim/ttrpc_server.h"

namespace {

using namespace xg::shim;

std::unique_ptr<google::protobuf::Message> request_for(const std::string& method) {
  namespace t = containerd::task::v2;
#define XG_TASK_METHOD(Name, Req, Resp) \
  if (method == #Name) return std::make_unique<Req>();
#include "cri-shim/task_methods.inc"
#undef XG_TASK_METHOD
  return nullptr;
}

}  // namespace

// protobuf logs every string that is not UTF-8; the parse failing is what we check, not the log line.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  TtrpcFrameReader reader;
  const RpcHandler handler = [](const std::string& service, const std::string& method, const std::string& payload) {
    auto req = request_for(method);
    if (service != kTaskService || !req) return rpc_error(RpcCode::kUnimplemented, "no");
    if (!req->ParseFromString(payload)) return rpc_error(RpcCode::kInvalidArgument, "malformed");
    return RpcReply{RpcCode::kOk, "", req->SerializeAsString()};
  };
  size_t off = 0, step = 1;
  while (off < size && !reader.failed()) {
    const size_t n = std::min(step, size - off);
    reader.feed(std::as_bytes(std::span(data + off, n)));
    off += n;
    step = step * 3 % 97 + 1;  // uneven chunks, as a stream socket delivers them
    while (auto f = reader.next()) {
      if (f->type == static_cast<uint8_t>(TtrpcType::kRequest)) (void)serve_ttrpc_request(f->body, handler);
    }
  }
  return 0;
}
