/* zone_info.h: libvgpu's one export that is not a CUDA entry point, and the contract between the zone's two
   libraries: libvgpu (libcuda.so.1) answers it, the zone's NVML (libnvidia-ml.so.1, libvgpu/nvml/) dlsyms it.

   Why a plain exported C function and not a private cuGetExportTable UUID of ours: the export tables are the
   driver's namespace (libvgpu serves NVIDIA's tables, recorded from the real driver, and answers every other UUID
   with CUDA_ERROR_NOT_SUPPORTED as the driver does); a name of our own keeps that mirror exact, is found with one
   dlsym, and its absence says plainly "this libcuda.so.1 is not libvgpu" (NVIDIA's driver is loaded instead).
   cuGetProcAddress never hands it out: it is in no CUDA entry-point table.

   Versioning: the caller sets struct_size to sizeof(struct xen_gpu_zone_info) as it was built; libvgpu refuses any
   other size (the two libraries ship side by side, from one build). */
#ifndef XEN_GPU_LIBVGPU_ZONE_INFO_H
#define XEN_GPU_LIBVGPU_ZONE_INFO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XEN_GPU_ZONE_INFO_SYMBOL "xen_gpu_zone_info"
#define XEN_GPU_ZONE_MAX_PROGRAMS 64
#define XEN_GPU_DRIVER_VERSION_CHARS 32

struct xen_gpu_zone_program {
  uint32_t zone_pid; /* the program's pid as it told the proxy (its getpid()); 0 when not known */
  uint32_t reserved;
  uint64_t used_bytes; /* its device allocations + its contexts' overhead */
};

struct xen_gpu_zone_info {
  uint32_t struct_size; /* in: sizeof(struct xen_gpu_zone_info) */
  uint32_t programs;    /* out: entries of program[] filled (the zone's live programs, at most 64) */
  uint64_t quota_bytes; /* the zone's memory quota, or the device's memory if smaller */
  uint64_t used_bytes;  /* device memory used by all of the zone's programs, contexts' overhead included */
  uint64_t overhead_bytes; /* the contexts' part of used_bytes */
  uint64_t gpu_ns;         /* GPU time accounted to the zone so far */
  uint32_t gpu_util_permille; /* the zone's share of GPU time over the proxy's last interval, 0..1000 */
  uint32_t weight;            /* the zone's GPU-time weight */
  char driver_version[XEN_GPU_DRIVER_VERSION_CHARS]; /* the driver domain's driver, NUL-terminated; "" if unknown */
  struct xen_gpu_zone_program program[XEN_GPU_ZONE_MAX_PROGRAMS];
};

/* Asks the zone's proxy worker (IDM op ZoneInfo). Returns a CUresult: CUDA_ERROR_NOT_INITIALIZED before cuInit,
   CUDA_ERROR_INVALID_VALUE for a NULL pointer or a struct_size of another build. */
typedef int (*xen_gpu_zone_info_fn)(struct xen_gpu_zone_info* info);

#ifdef __cplusplus
}
#endif

#endif
