// The operator's side of the admin socket (xen-gpu run / zones): one text command per packet, one reply.
#pragma once

#include <optional>
#include <string>

#include "idm/unique_fd.h"

namespace xg::proxy {

class AdminClient {
 public:
  // Connects; nullopt (with `error` set) if the daemon is not there.
  [[nodiscard]] static std::optional<AdminClient> connect(const std::string& path, std::string& error);
  // Sends a command and returns the reply ("ok..." or "error ..."), or nullopt if the daemon went away.
  [[nodiscard]] std::optional<std::string> request(const std::string& command);

 private:
  explicit AdminClient(idm::UniqueFd fd) : fd_(std::move(fd)) {}
  idm::UniqueFd fd_;
};

}  // namespace xg::proxy
