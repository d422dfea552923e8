// Unix-socket helpers shared by the shm transport's registration, the daemon's admin socket and the daemon-worker
// control socket: a listening socket, and one SOCK_SEQPACKET packet at a time, optionally carrying one descriptor.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string>

#include "idm/result.h"
#include "idm/unique_fd.h"

namespace xg::idm {

// A SOCK_SEQPACKET socket listening on `path` (an old socket file there is replaced).
[[nodiscard]] Result<UniqueFd> listen_unix(const std::string& path);
// Sends one packet, with `pass_fd` attached (SCM_RIGHTS) unless it is -1.
[[nodiscard]] Error send_packet(int fd, std::span<const std::byte> bytes, int pass_fd = -1);
// Receives one packet of at most out.size() bytes within `timeout`; a longer packet is kBadLength.
[[nodiscard]] Result<size_t> recv_packet(int fd, std::span<std::byte> out, UniqueFd* received_fd,
                                         std::chrono::milliseconds timeout);

}  // namespace xg::idm
