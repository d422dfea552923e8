// Entry point of a zone worker process (gpu-proxy --worker), started by the daemon with:
//   fd 3 = the zone's registration socket, fd 4 = the control socket, fd 5 = the control page memfd.
#pragma once

#include <string>

namespace xg::proxy {

inline constexpr int kWorkerZoneFd = 3;
inline constexpr int kWorkerControlFd = 4;
inline constexpr int kWorkerPageFd = 5;
// Exit status of a Xen zone's worker whose program ended while the domain lives on: the daemon starts the next
// worker for the zone's next program.
inline constexpr int kWorkerNextProgram = 75;

int worker_main(const std::string& driver_path);

}  // namespace xg::proxy
