// cuGetExportTable: the driver's private tables that the CUDA runtime (cudart, static or shared, 12.x and 13.0) and
// the CUDA libraries ask for by UUID. Each table is an array of pointer-sized words: word 0 its size in bytes, then
// function pointers (the context-local-storage table alone has no size word and ends with NULL). They are answered
// zone-side: module loads and the primary context go to the worker through the ordinary messages; context-local
// storage, the tool-callback switches and the integrity digest are local. A slot we do not implement answers
// CUDA_ERROR_NOT_SUPPORTED and logs its table and index once; an unknown UUID answers CUDA_ERROR_INVALID_VALUE (as
// for a table the driver does not have) and is logged once. STATUS.md lists each table and slot.
#pragma once

#include <cstdint>
#include <span>

#include "cuda/cuda_abi.h"

namespace xg::vgpu {

struct ExportTableInfo {
  const char* name;
  CUuuid id;
  const void* table;
};
// Every table libvgpu answers, for tests and the trace.
[[nodiscard]] std::span<const ExportTableInfo> export_tables() noexcept;

// The runtime's context-local storage: destructors of values still registered for `ctx`, run when the context is
// destroyed (cuCtxDestroy, primary-context reset). Call without holding the connection's lock: a destructor may
// call back into the driver API.
void run_context_storage_destructors(uint64_t ctx) noexcept;

// The integrity table's digest (slot 1) for the given inputs; `out` receives 16 bytes. Exposed for tests.
struct IntegrityInputs {
  uint32_t driver_version, runtime_version, pid, tid;
  uint64_t cudart_table, integrity_table, integrity_fn, unix_seconds;
  struct Device {
    CUuuid uuid;
    int32_t pci_domain, pci_bus, pci_device;
  };
  std::span<const Device> devices;
};
void integrity_digest(const IntegrityInputs& in, uint8_t out[16]) noexcept;

}  // namespace xg::vgpu
