#include "gpu-proxy/admin_client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "idm/transport_shm.h"

namespace xg::proxy {

std::optional<AdminClient> AdminClient::connect(const std::string& path, std::string& error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    error = "socket path too long: " + path;
    return std::nullopt;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  idm::UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error = "cannot reach gpu-proxy at " + path + " (" + std::strerror(errno) +
            "); is it running? (stub mode: gpu-proxy --driver sim --socket ... --admin-socket " + path + ")";
    return std::nullopt;
  }
  return AdminClient(std::move(fd));
}

std::optional<std::string> AdminClient::request(const std::string& command) {
  // A daemon that refuses this connection (admin_closed: not an operator) answers at once and closes: its answer
  // may be waiting even though our request could not be sent.
  const bool sent =
      idm::send_packet(fd_.get(), std::as_bytes(std::span(command.data(), command.size()))) == idm::Error::kOk;
  std::vector<std::byte> buf(256 * 1024);  // the daemon answers up to 200 KiB (zones-json)
  auto n = idm::recv_packet(fd_.get(), buf, nullptr, sent ? std::chrono::seconds(10) : std::chrono::milliseconds(100));
  if (!n) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(buf.data()), *n);
}

}  // namespace xg::proxy
