#include "tests/support/child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

namespace xg::test {
namespace {
std::map<std::string, ChildMain>& registry() {
  static std::map<std::string, ChildMain> r;
  return r;
}
}  // namespace

int register_child(const char* name, ChildMain fn) {
  registry()[name] = fn;
  return 0;
}

int run_child(const char* name, int argc, char** argv) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::fprintf(stderr, "no child entry point '%s'\n", name);
    return 127;
  }
  return it->second(argc, argv);
}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    this->~Child();
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

Child::~Child() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

int Child::wait() {
  int st = 0;
  if (pid_ <= 0) return -1;
  while (::waitpid(pid_, &st, 0) < 0) {
  }
  pid_ = -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void Child::kill(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

Child spawn_child(const std::string& name, const std::vector<std::string>& args, const std::vector<int>& keep_fds) {
  std::vector<std::string> argv_s = {"/proc/self/exe", "--child", name};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return Child{};
  exe[n] = 0;
  pid_t pid = ::fork();
  if (pid == 0) {
    for (int fd : keep_fds) ::fcntl(fd, F_SETFD, 0);
    ::execv(exe, argv.data());
    ::_exit(127);
  }
  return Child(pid);
}

}  // namespace xg::test
