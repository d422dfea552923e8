// PID 1's chores in a pod's zone (a PV guest booted from our initramfs): the file systems every zone needs,
// kernel modules, the console, and the end (everything signalled, then power off). The kernel panics if PID 1
// exits, so nothing here returns an error to a caller that could exit: failures are printed and the caller
// powers off.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace xg::zone {

// One line on the console, "xg-zone-init: <msg>" (the boot test reads the console).
void say(std::string_view msg) noexcept;

// Those of fds 0-2 that are not open onto /dev/console (the kernel opens it for /init only when the initramfs
// has the node; otherwise devtmpfs has it once mounted).
void attach_console() noexcept;

// proc, sys, devtmpfs, devpts, /dev/shm, /run, /tmp; false (and printed) when one that matters fails.
[[nodiscard]] bool mount_basics() noexcept;

// finit_module for each path listed in `list` (one a line; '#' comments); a missing list is fine (the zone kernel
// has them built in), EEXIST is fine. Returns how many failed.
[[nodiscard]] int load_modules(const std::string& list) noexcept;

// xenfs on /proc/xen where the kernel offers it (older tools find xenbus there).
void mount_xenfs() noexcept;

// SIGTERM to every process but us, SIGKILL to what remains after `grace`; the caller's reaper keeps reaping.
void end_all_processes(std::chrono::milliseconds grace) noexcept;

// sync, then power off. Never returns.
[[noreturn]] void power_off() noexcept;

}  // namespace xg::zone
