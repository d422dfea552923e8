// compile_oci_seccomp: profiles as containerd writes them into a spec, compiled and then run: the program is
// installed in a forked child, whose system calls must fare as the profile says.
#include "cri-shim/oci_seccomp.h"

#include <doctest/doctest.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "cri-shim/zone/seccomp_filter.h"

using namespace xg::shim;
using nlohmann::json;

namespace {

std::optional<SeccompProgram> compiled(const json& linux_section) {
  auto r = compile_oci_seccomp(json{{"linux", linux_section}});
  if (auto* e = std::get_if<std::string>(&r)) FAIL_CHECK("compile_oci_seccomp: " << *e);
  return std::holds_alternative<std::string>(r) ? std::nullopt : std::get<0>(r);
}

std::string error_of(const json& linux_section) {
  auto r = compile_oci_seccomp(json{{"linux", linux_section}});
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string();
}

// Installs `p` in a child (with no_new_privs, as an unprivileged test must), runs `probe` there and returns its
// exit status: the probe's own code, or 200 + what went wrong before it.
template <typename Probe>
int run_filtered(const SeccompProgram& p, Probe probe) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(201);
    if (xg::zone::install_seccomp_filter(p.insns, p.flags) != 0) ::_exit(202);
    ::_exit(probe());
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return 203;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

// -1 with errno `e`.
bool fails_with(long rc, int e) { return rc == -1 && errno == e; }

}  // namespace

TEST_CASE("oci seccomp: no profile, no filter") {
  CHECK_FALSE(compiled(json::object()).has_value());
  CHECK_FALSE(compiled(json{{"seccomp", nullptr}}).has_value());
  CHECK_FALSE(compiled(json()).has_value());
}

TEST_CASE("oci seccomp: actions, errnoRet, argument rules (AND, same-index OR, masked), unknown names") {
  const json linux_section = json::parse(R"({"seccomp": {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [
      {"names": ["getppid", "no_such_syscall_xg"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
      {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
      {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
       "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 28, "op": "SCMP_CMP_EQ"}]},
      {"names": ["setpriority"], "action": "SCMP_ACT_ERRNO",
       "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 19, "op": "SCMP_CMP_EQ"}]},
      {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 448, "valueTwo": 448, "op": "SCMP_CMP_MASKED_EQ"}]},
      {"names": ["getuid"], "action": "SCMP_ACT_ALLOW"}
    ]}})");
  auto p = compiled(linux_section);
  REQUIRE(p.has_value());
  CHECK(p->flags == xg::idm::kCtlFilterLog);
  CHECK(p->unknown_syscalls == 1);
  CHECK(p->insns.size() > 10);
  CHECK(p->insns.size() <= xg::idm::kMaxCtlFilterInsns);
  const int rc = run_filtered(*p, [] {
    if (!fails_with(::syscall(SYS_getppid), ENOSYS)) return 1;              // errnoRet
    if (!fails_with(::syscall(SYS_getpriority, PRIO_USER, 0), EPERM)) return 2;  // arg matches: EPERM default
    if (::syscall(SYS_getpriority, PRIO_PROCESS, 0) == -1) return 3;           // arg does not: allowed
    if (!fails_with(::syscall(SYS_kill, ::getpid(), 0), EPERM)) return 4;       // same index: either value
    if (!fails_with(::syscall(SYS_kill, ::getpid(), SIGWINCH), EPERM)) return 5;
    if (::syscall(SYS_kill, ::getpid(), SIGCHLD) != 0) return 6;
    if (::syscall(SYS_setpriority, PRIO_PROCESS, 0, 10) != 0) return 7;  // mixed indexes: both must hold
    if (!fails_with(::syscall(SYS_setpriority, PRIO_PROCESS, 0, 19), EPERM)) return 8;
    if (!fails_with(::syscall(SYS_umask, 0777), EPERM)) return 9;  // (mode & 0700) == 0700
    if (::syscall(SYS_umask, 022) == -1) return 10;
    return ::syscall(SYS_getuid) == -1 ? 11 : 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("oci seccomp: a default-deny profile the size of containerd's (every x86_64 call allowed by name)") {
  json names = json::array();
  for (int nr = 0; nr < 460; ++nr)
    if (char* n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr)) {
      if (std::string(n) != "getppid") names.push_back(n);
      std::free(n);
    }
  REQUIRE(names.size() > 300);
  const json linux_section = {{"seccomp",
                               {{"defaultAction", "SCMP_ACT_ERRNO"},
                                {"defaultErrnoRet", 1},
                                {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
                                {"syscalls", {{{"names", names}, {"action", "SCMP_ACT_ALLOW"}}}}}}};
  auto p = compiled(linux_section);
  REQUIRE(p.has_value());
  CHECK(p->insns.size() <= xg::idm::kMaxCtlFilterInsns);
  CHECK(run_filtered(*p, [] { return fails_with(::syscall(SYS_getppid), EPERM) && ::getpid() > 0 ? 0 : 1; }) == 0);
}

TEST_CASE("oci seccomp: what a zone cannot do is an error that names it") {
  auto with = [](const char* text) { return error_of(json::parse(text)); };
  CHECK(with(R"({"seccomp": {"defaultAction": "SCMP_ACT_NOTIFY"}})").find("SCMP_ACT_NOTIFY") != std::string::npos);
  CHECK(with(R"({"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}})").find("listenerPath") != std::string::npos);
  CHECK(with(R"({"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_NOPE"]}})").find("architecture") != std::string::npos);
  CHECK(with(R"({"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}})").find("WAIT_KILLABLE_RECV") != std::string::npos);
  CHECK(with(R"({"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
      "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}})").find("index") != std::string::npos);
  CHECK(with(R"({"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]}})").find("SCMP_CMP_SOMETIMES") != std::string::npos);
  CHECK(with(R"({"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}})").find("SCMP_ACT_NOTIFY") != std::string::npos);
  CHECK(with(R"({"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {"names": ["read"]}}})").find("not a list") != std::string::npos);
  CHECK_FALSE(with(R"({"seccomp": "yes"})").empty());
}
