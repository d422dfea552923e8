// The worker's system-call filter. A worker parses a hostile zone's bytes; if a bug there is ever exploited, the
// attacker should hold that zone's CUDA context and little else. The filter is a deny list, not an allow list: the
// worker runs whatever driver it was given (the host's libcuda.so.1 makes ioctls, mmaps, threads and opens device
// files as it sees fit, and we cannot enumerate that without a GPU), so what is refused is what no driver needs
// while serving a context: starting programs or processes, debugging other processes, loading kernel code,
// changing mounts, namespaces, the clock or the machine, and the kernel's larger attack surfaces (bpf, io_uring,
// userfaultfd, perf events, keyrings). Refused calls fail with EPERM (clone3 with ENOSYS, so that thread creation
// falls back to clone, where the flags can be checked); the worker keeps serving.
#pragma once

namespace xg::proxy {

// Installs the filter for the calling thread and every thread it creates afterwards (call it before the worker
// starts threads, or with none running besides the caller; PR_SET_NO_NEW_PRIVS must be set). Returns false, having
// installed nothing, where the kernel or the architecture has no seccomp filtering; the caller logs that.
[[nodiscard]] bool install_worker_syscall_filter() noexcept;

// True in AddressSanitizer builds, whose leak checker stops the world at exit from a task it clones with
// CLONE_VM | CLONE_UNTRACED and attaches with ptrace: the filter lets exactly that through there, and nowhere else.
[[nodiscard]] bool worker_filter_allows_leak_tracer() noexcept;

}  // namespace xg::proxy
