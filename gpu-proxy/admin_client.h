// The operator's side of the admin socket (xen-gpu run / zones): one text command per packet, one reply.
#pragma once

#include <optional>
#include <string>

#include "gpu-proxy/admin_protocol.h"
#include "idm/unique_fd.h"

namespace xg::proxy {

class AdminClient {
 public:
  // Connects; nullopt (with `error` set) if the daemon is not there.
  [[nodiscard]] static std::optional<AdminClient> connect(const std::string& path, std::string& error);
  // Sends a command and returns the reply ("ok..." or "error ..."), or nullopt if the daemon went away.
  [[nodiscard]] std::optional<std::string> request(const std::string& command);
  // The same for a request of the admin protocol (admin_protocol.h), formatted as the daemon parses it.
  [[nodiscard]] std::optional<std::string> request(const AdminRequest& r) { return request(format_admin_request(r)); }

 private:
  explicit AdminClient(idm::UniqueFd fd) : fd_(std::move(fd)) {}
  idm::UniqueFd fd_;
};

}  // namespace xg::proxy
