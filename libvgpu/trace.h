// XEN_GPU_TRACE=FILE: a record of every call a program makes to libvgpu, to diff a zone's run against a run on the
// real driver (or against another zone's). One line per event, appended with one write() so threads never
// interleave within a line:
//   <us since load> <tid> call <entry point or table slot> -> <CUresult name> <duration us>
//   <us since load> <tid> msg  <opcode> seq=<n> [first words of the request, hex]   (what went to the proxy)
//   <us since load> <tid> note <text>                                               (lookups: cuGetProcAddress
//                                                                                    symbol/version, export-table
//                                                                                    UUIDs)
// Off (the variable unset), a call costs one load of a flag that never changes after start-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace xg::vgpu::trace {

// Set once, before main() runs (a constructor reads XEN_GPU_TRACE); never changes afterwards.
extern bool g_on;
[[nodiscard]] inline bool on() noexcept { return g_on; }

// The entry point's name from a compiler function signature ("CUresult cuMemAlloc_v2(CUdeviceptr*, size_t)").
[[nodiscard]] std::string_view entry_name(std::string_view signature) noexcept;
[[nodiscard]] uint64_t now_us() noexcept;

void call(std::string_view signature, int result, uint64_t start_us) noexcept;
void message(std::string_view op, uint32_t seq, const void* req, size_t req_bytes, size_t tail_bytes) noexcept;
void note(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));

}  // namespace xg::vgpu::trace
