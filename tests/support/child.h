// Child processes for multi-process tests: register an entry point with XG_CHILD(name), start it with
// spawn_child(name, args) (fork + exec of this same test binary), reap it with the returned Child.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace xg::test {

using ChildMain = int (*)(int argc, char** argv);

int register_child(const char* name, ChildMain fn);
int run_child(const char* name, int argc, char** argv);

// A spawned child; killed (SIGKILL) and reaped on destruction if still running.
class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(Child&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Child& operator=(Child&& o) noexcept;
  ~Child();
  [[nodiscard]] pid_t pid() const { return pid_; }
  // Waits for exit; returns the exit status, or 128+signal.
  int wait();
  void kill(int sig);

 private:
  pid_t pid_ = -1;
};

// `keep_fds` stay open in the child (everything else is CLOEXEC by our code's convention).
[[nodiscard]] Child spawn_child(const std::string& name, const std::vector<std::string>& args,
                                const std::vector<int>& keep_fds = {});

}  // namespace xg::test

#define XG_CHILD_CAT2(a, b) a##b
#define XG_CHILD_CAT(a, b) XG_CHILD_CAT2(a, b)
#define XG_CHILD(name)                                                                               \
  static int XG_CHILD_CAT(xg_child_fn_, __LINE__)(int argc, char** argv);                            \
  [[maybe_unused]] static const int XG_CHILD_CAT(xg_child_reg_, __LINE__) =                          \
      ::xg::test::register_child(name, &XG_CHILD_CAT(xg_child_fn_, __LINE__));                       \
  static int XG_CHILD_CAT(xg_child_fn_, __LINE__)([[maybe_unused]] int argc, [[maybe_unused]] char** argv)
