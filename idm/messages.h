// THE table: every IDM message, once. Columns:
//   name, opcode, kind (kCall | kPost | kControl), request payload, response payload (Empty for posts),
//   bound on the request tail, bound on the response tail (bytes; 0 = no tail allowed).
// Adding an opcode: declare its structs (padding-free) in messages_*.h, add a row, add a handler in the proxy's
// dispatch (the compiler lists the missing ones), add malformed cases under idm/testdata/malformed/.
#pragma once

#include "idm/messages_core.h"

#define IDM_MESSAGES(X)                                                  \
  X(Hello, 0x0001, kControl, HelloReq, WelcomeRsp, kMaxZoneName, 0)      \
  X(Ping, 0x0010, kCall, PingReq, PingRsp, 0, 0)                         \
  X(Echo, 0x0011, kCall, EchoReq, EchoRsp, kMaxEchoTail, kMaxEchoTail)   \
  X(Nop, 0x0012, kPost, NopPost, Empty, 0, 0)                            \
  X(BulkPut, 0x0013, kCall, BulkPutReq, BulkPutRsp, 0, 0)
