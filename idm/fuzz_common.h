// Shared by the idm fuzz targets: exercise a decoded message the way a handler would.
#pragma once

#include "idm/codec.h"

namespace xg::idm::fuzz {

inline void touch(const Message& m) {
  volatile uint64_t sink = 0;
  dispatch(m, [&](auto, const MsgHeader& h, const auto& req, std::span<const std::byte> tail) {
    auto b = bytes_of(req);
    for (auto x : b) sink = sink + static_cast<uint8_t>(x);
    for (auto x : tail) sink = sink + static_cast<uint8_t>(x);
    sink = sink + h.seq;
  });
}

}  // namespace xg::idm::fuzz
