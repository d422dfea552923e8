// Xen mode: the OCI spec's linux.seccomp, compiled in dom0 into the classic BPF program that the zone init installs
// on the container's processes (the zone's kernel checks and runs it). Compiled with libseccomp, as runc does, so
// that syscall names, architectures and argument comparisons mean what they mean under runc; the zone init only
// installs a program it is handed, and carries no syscall tables of its own.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "idm/messages_zonectl.h"

namespace xg::shim {

struct SeccompProgram {
  std::vector<idm::CtlFilterInsn> insns;  // at most idm::kMaxCtlFilterInsns
  uint32_t flags = 0;                     // idm::CtlFilterFlags (the spec's SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW)
  uint32_t unknown_syscalls = 0;          // names libseccomp does not know (skipped, as runc skips them)
};

// The spec's linux.seccomp as OCI defines it (`spec` is the whole config.json, as zone_resources_for takes it): defaultAction (+ defaultErrnoRet), architectures, flags, syscalls (names,
// action, errnoRet, args with index/value/valueTwo/op). nullopt inside the variant: no filter (`seccomp` absent
// or null). The error names what a zone cannot do: SCMP_ACT_NOTIFY and listenerPath (no agent in a zone), an
// unknown action, architecture, operator or flag, or a program over the kernel's 4096 instructions.
// As runc: a rule whose action is the default action is dropped; the args of one rule that all name the same
// argument are alternatives (one rule each), otherwise they all must hold; SECCOMP_FILTER_FLAG_TSYNC is implied
// (the filter is installed before the process has threads).
[[nodiscard]] std::variant<std::optional<SeccompProgram>, std::string> compile_oci_seccomp(
    const nlohmann::json& spec);

}  // namespace xg::shim
