// A valid sample request and response for every opcode, generated from the table: the round-trip test and
// the fuzz seed corpus both start from these.
#pragma once

#include <cstddef>
#include <vector>

#include "idm/codec.h"

namespace xg::idm {

struct Sample {
  const OpInfo* info;
  std::vector<std::byte> request;   // a whole message: header + payload
  std::vector<std::byte> response;  // empty for posts
};

[[nodiscard]] std::vector<Sample> sample_messages();

}  // namespace xg::idm
