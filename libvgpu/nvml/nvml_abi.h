// nvml_abi.h: our declaration of the part of NVML's binary interface that the zone's libnvidia-ml.so.1 serves.
//
// As cuda/cuda_abi.h is for the driver API, this is the build's stand-in for NVIDIA's nvml.h: no NVIDIA header is
// needed. Everything here is a fact of the ABI (return codes, buffer sizes, struct layouts, the struct-version
// encoding, exported symbol names), written in our own format from the NVML API reference; a wrong number here is a
// real bug (a program built against nvml.h would read garbage), so the layouts carry static_asserts.
//
// Symbol names: nvml.h maps unversioned names onto versioned symbols (`#define nvmlInit nvmlInit_v2`,
// nvmlDeviceGetCount -> _v2, nvmlDeviceGetHandleByIndex -> _v2, nvmlDeviceGetPciInfo -> _v3, and the process
// lists -> _v3 in current headers). We declare no such macros: every function carries its real exported name, and
// the older versions are exported too, for programs linked against older headers.
//
// Included from C++ only. x86_64 / aarch64 Linux (LP64) only.
#pragma once

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define XG_NVML_API __attribute__((visibility("default")))
#else
#define XG_NVML_API
#endif

extern "C" {

typedef enum nvmlReturn_enum {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3,
  NVML_ERROR_NO_PERMISSION = 4,
  NVML_ERROR_ALREADY_INITIALIZED = 5,
  NVML_ERROR_NOT_FOUND = 6,
  NVML_ERROR_INSUFFICIENT_SIZE = 7,
  NVML_ERROR_INSUFFICIENT_POWER = 8,
  NVML_ERROR_DRIVER_NOT_LOADED = 9,
  NVML_ERROR_TIMEOUT = 10,
  NVML_ERROR_IRQ_ISSUE = 11,
  NVML_ERROR_LIBRARY_NOT_FOUND = 12,
  NVML_ERROR_FUNCTION_NOT_FOUND = 13,
  NVML_ERROR_CORRUPTED_INFOROM = 14,
  NVML_ERROR_GPU_IS_LOST = 15,
  NVML_ERROR_RESET_REQUIRED = 16,
  NVML_ERROR_OPERATING_SYSTEM = 17,
  NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
  NVML_ERROR_IN_USE = 19,
  NVML_ERROR_MEMORY = 20,
  NVML_ERROR_NO_DATA = 21,
  NVML_ERROR_VGPU_ECC_NOT_ENABLED = 22,
  NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
  NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
  NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
  NVML_ERROR_DEPRECATED = 26,
  NVML_ERROR_NOT_READY = 27,
  NVML_ERROR_GPU_NOT_FOUND = 28,
  NVML_ERROR_INVALID_STATE = 29,
  NVML_ERROR_UNKNOWN = 999
} nvmlReturn_t;

// nvmlInitWithFlags flags.
#define NVML_INIT_FLAG_NO_GPUS 1u    // initialise even when there is no GPU
#define NVML_INIT_FLAG_NO_ATTACH 2u  // do not attach GPUs

// Buffer sizes callers pass (guaranteed large enough by the API).
#define NVML_DEVICE_UUID_BUFFER_SIZE 80
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96
#define NVML_DEVICE_NAME_BUFFER_SIZE 64
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80
#define NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE 80
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16

// "Value not available" in 64-bit fields (e.g. nvmlProcessInfo's usedGpuMemory) and the "no MIG instance" id.
#define NVML_VALUE_NOT_AVAILABLE (~0ULL)
#define XG_NVML_NO_INSTANCE 0xFFFFFFFFu

// Versioned structs carry (sizeof | version << 24) in their first field (nvml.h's NVML_STRUCT_VERSION).
#define XG_NVML_STRUCT_VERSION(type, ver) (static_cast<unsigned int>(sizeof(type) | ((ver) << 24u)))

typedef struct nvmlDevice_st* nvmlDevice_t;  // opaque to callers; ours is a slot of the library's device table

typedef struct nvmlMemory_st {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;  // includes what the driver sets aside
} nvmlMemory_t;

typedef struct nvmlMemory_v2_st {
  unsigned int version;  // nvmlMemory_v2
  unsigned long long total;
  unsigned long long reserved;  // set aside by the driver or firmware
  unsigned long long free;
  unsigned long long used;  // excludes `reserved`
} nvmlMemory_v2_t;
#define nvmlMemory_v2 XG_NVML_STRUCT_VERSION(nvmlMemory_v2_t, 2)

typedef struct nvmlUtilization_st {
  unsigned int gpu;     // percent of the last sample period during which a kernel ran
  unsigned int memory;  // percent of the period during which device memory was read or written
} nvmlUtilization_t;

// nvmlDeviceGetComputeRunningProcesses (v1).
typedef struct nvmlProcessInfo_v1_st {
  unsigned int pid;
  unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;
// _v2 and _v3 (nvml.h's nvmlProcessInfo_t has this layout too).
typedef struct nvmlProcessInfo_v2_st {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;      // 0xFFFFFFFF without MIG
  unsigned int computeInstanceId;  // 0xFFFFFFFF without MIG
} nvmlProcessInfo_v2_t;
typedef nvmlProcessInfo_v2_t nvmlProcessInfo_t;

// nvmlDeviceGetPciInfo_v2 / _v3.
typedef struct nvmlPciInfo_st {
  char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];  // "dddd:bb:dd.0"
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;     // device id << 16 | vendor id
  unsigned int pciSubSystemId;
  char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];  // "dddddddd:bb:dd.0"
} nvmlPciInfo_t;
// nvmlDeviceGetPciInfo (v1): the old layout, a 16-byte bus id and four reserved words.
typedef struct nvmlPciInfo_v1_st {
  char busId[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  unsigned int reserved0, reserved1, reserved2, reserved3;
} nvmlPciInfo_v1_t;

}  // extern "C"

static_assert(sizeof(nvmlReturn_t) == 4);
static_assert(sizeof(nvmlMemory_t) == 24);
static_assert(sizeof(nvmlMemory_v2_t) == 40 && offsetof(nvmlMemory_v2_t, total) == 8);
static_assert(nvmlMemory_v2 == 0x02000028u);
static_assert(sizeof(nvmlUtilization_t) == 8);
static_assert(sizeof(nvmlProcessInfo_v1_t) == 16 && offsetof(nvmlProcessInfo_v1_t, usedGpuMemory) == 8);
static_assert(sizeof(nvmlProcessInfo_v2_t) == 24 && offsetof(nvmlProcessInfo_v2_t, gpuInstanceId) == 16);
static_assert(sizeof(nvmlPciInfo_t) == 68 && offsetof(nvmlPciInfo_t, busId) == 36);
static_assert(sizeof(nvmlPciInfo_v1_t) == 52 && offsetof(nvmlPciInfo_v1_t, domain) == 16);
