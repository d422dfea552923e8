// Opens N connections to a zone socket and says nothing on any of them, for SECONDS: what a hostile or broken
// client does to the daemon's worker budget. Prints how many connections the daemon accepted and kept open.
// Usage: conn_flood SOCKET N SECONDS
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const int n = std::atoi(argv[2]);
  const int seconds = std::atoi(argv[3]);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (fd < 0) break;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      continue;
    }
    fds.push_back(fd);
  }
  std::printf("connected %zu of %d\n", fds.size(), n);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  // Which are still open on the daemon's side: a closed one reads EOF at once.
  size_t open = 0;
  for (int fd : fds) {
    char b;
    const ssize_t r = ::recv(fd, &b, 1, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ++open;
  }
  std::printf("still open after %d s: %zu\n", seconds, open);
  for (int fd : fds) ::close(fd);
  return 0;
}
