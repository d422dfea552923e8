#include "gpu-proxy/worker/worker_sandbox.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace xg::proxy {

#if defined(__x86_64__)
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kLeakCheckerNeedsTracer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kLeakCheckerNeedsTracer = true;
#else
constexpr bool kLeakCheckerNeedsTracer = false;
#endif
#else
constexpr bool kLeakCheckerNeedsTracer = false;
#endif

// Refused with EPERM.
constexpr int kDenied[] = {
    SYS_execve, SYS_execveat, SYS_fork, SYS_vfork,                                            // new programs/processes
    SYS_process_vm_readv, SYS_process_vm_writev,                                              // other processes
    SYS_kexec_load, SYS_kexec_file_load, SYS_init_module, SYS_finit_module, SYS_delete_module,  // kernel code
    SYS_reboot, SYS_swapon, SYS_swapoff, SYS_acct, SYS_syslog, SYS_iopl, SYS_ioperm,           // the machine
    SYS_settimeofday, SYS_clock_settime, SYS_clock_adjtime, SYS_adjtimex, SYS_sethostname, SYS_setdomainname,
    SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_unshare, SYS_setns,               // mounts, namespaces
    SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick, SYS_move_mount, SYS_open_tree, SYS_mount_setattr,
    SYS_open_by_handle_at, SYS_name_to_handle_at, SYS_quotactl, SYS_personality, SYS_uselib, SYS_vhangup,
    SYS_bpf, SYS_perf_event_open, SYS_userfaultfd, SYS_keyctl, SYS_add_key, SYS_request_key,   // attack surface
    SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
};

sock_filter stmt(uint16_t code, uint32_t k) { return BPF_STMT(code, k); }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return BPF_JUMP(code, k, jt, jf); }

constexpr uint32_t kDeny = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
constexpr uint32_t kNoSys = SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA);
constexpr uint32_t kClone = SYS_clone;
constexpr uint32_t kArg0Low = offsetof(seccomp_data, args[0]);  // little endian: the flags' low 32 bits

std::vector<sock_filter> build_filter() {
  std::vector<sock_filter> f;
  // Only native x86-64 calls: an int 0x80 (i386 numbers) or x32 call is refused outright.
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  f.push_back(stmt(BPF_RET | BPF_K, kDeny));
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  f.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));  // __X32_SYSCALL_BIT
  f.push_back(stmt(BPF_RET | BPF_K, kDeny));
  for (int nr : kDenied) {
    f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    f.push_back(stmt(BPF_RET | BPF_K, kDeny));
  }
  if (!kLeakCheckerNeedsTracer) {
    f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 0, 1));
    f.push_back(stmt(BPF_RET | BPF_K, kDeny));
  }
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, kNoSys));  // its flags live in memory, out of the filter's reach
  // clone: threads (CLONE_THREAD) only; in sanitizer builds also the leak checker's CLONE_VM|CLONE_UNTRACED task.
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, kClone, 1, 0));
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kArg0Low));
  f.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  if (kLeakCheckerNeedsTracer) {
    f.push_back(stmt(BPF_ALU | BPF_AND | BPF_K, CLONE_VM | CLONE_UNTRACED));
    f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, CLONE_VM | CLONE_UNTRACED, 0, 1));
    f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  }
  f.push_back(stmt(BPF_RET | BPF_K, kDeny));
  return f;
}

}  // namespace

bool worker_filter_allows_leak_tracer() noexcept { return kLeakCheckerNeedsTracer; }

bool install_worker_syscall_filter() noexcept {
  try {
    std::vector<sock_filter> f = build_filter();
    sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
    // TSYNC: every thread of the worker, including any the driver started during cuInit.
    return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) == 0;
  } catch (...) {
    return false;
  }
}

#else

bool install_worker_syscall_filter() noexcept { return false; }  // the deny list names x86-64 system calls
bool worker_filter_allows_leak_tracer() noexcept { return false; }

#endif

}  // namespace xg::proxy
