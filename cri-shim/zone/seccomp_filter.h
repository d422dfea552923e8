// Installing a seccomp program (CtlStart's, in struct sock_filter's layout) on the calling thread: the zone init's
// spawn does it for a container's processes, and tests run shim-compiled programs through the same call.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <span>

#include "idm/messages_zonectl.h"

namespace xg::zone {

static_assert(sizeof(idm::CtlFilterInsn) == sizeof(sock_filter) &&
              alignof(idm::CtlFilterInsn) == alignof(sock_filter));
static_assert(idm::kCtlFilterLog == SECCOMP_FILTER_FLAG_LOG &&
              idm::kCtlFilterSpecAllow == SECCOMP_FILTER_FLAG_SPEC_ALLOW);

// 0 or an errno (EACCES without no_new_privs or CAP_SYS_ADMIN; EINVAL for a program the kernel refuses). A raw
// system call: async-signal-safe, for a child between fork and exec.
inline int install_seccomp_filter(std::span<const idm::CtlFilterInsn> insns, uint32_t flags) noexcept {
  sock_fprog prog{static_cast<unsigned short>(insns.size()),
                  reinterpret_cast<sock_filter*>(const_cast<idm::CtlFilterInsn*>(insns.data()))};
  return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) == 0 ? 0 : errno;
}

}  // namespace xg::zone
