// Memory API tour: info, pitch allocation + 2D copies, memsets of every width, host alloc and registration,
// pointer attributes, address ranges, device-to-device and unified copies.
#include <cstring>
#include <vector>

#include "common.h"

int main() {
  CUcontext ctx = setup_primary_context();
  size_t free0 = 0, total = 0;
  CK(cuMemGetInfo_v2(&free0, &total));
  REQUIRE_TRUE(free0 > 0 && free0 <= total, "free %zu total %zu", free0, total);

  // Pitched 2D buffer: copy a 40x30 byte image in, memset a row, copy it back out.
  const size_t w = 40, h = 30;
  std::vector<unsigned char> img(w * h), back(w * h);
  for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<unsigned char>(i * 3 + 1);
  CUdeviceptr dimg = 0;
  size_t pitch = 0;
  CK(cuMemAllocPitch_v2(&dimg, &pitch, w, h, 4));
  REQUIRE_TRUE(pitch >= w, "pitch %zu", pitch);
  CUDA_MEMCPY2D in{};
  in.srcMemoryType = CU_MEMORYTYPE_HOST;
  in.srcHost = img.data();
  in.srcPitch = w;
  in.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  in.dstDevice = dimg;
  in.dstPitch = pitch;
  in.WidthInBytes = w;
  in.Height = h;
  CK(cuMemcpy2D_v2(&in));
  CK(cuMemsetD8_v2(dimg + 5 * pitch, 0xee, w));  // row 5
  CUDA_MEMCPY2D out{};
  out.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  out.srcDevice = dimg;
  out.srcPitch = pitch;
  out.dstMemoryType = CU_MEMORYTYPE_HOST;
  out.dstHost = back.data();
  out.dstPitch = w;
  out.WidthInBytes = w;
  out.Height = h;
  CK(cuMemcpy2D_v2(&out));
  for (size_t r = 0; r < h; ++r)
    for (size_t c = 0; c < w; ++c) {
      const unsigned char want = r == 5 ? 0xee : img[r * w + c];
      REQUIRE_TRUE(back[r * w + c] == want, "pixel (%zu,%zu) = %u, want %u", r, c, back[r * w + c], want);
    }

  // Memsets of 16 and 32 bits, device-to-device and unified copies.
  CUdeviceptr a = 0, b = 0;
  CK(cuMemAlloc_v2(&a, 1024));
  CK(cuMemAlloc_v2(&b, 1024));
  CK(cuMemsetD16_v2(a, 0xbeef, 512));
  CK(cuMemsetD32_v2(a + 512, 0x01020304, 128));
  CK(cuMemcpyDtoD_v2(b, a, 1024));
  std::vector<unsigned char> raw(1024);
  CK(cuMemcpy(reinterpret_cast<CUdeviceptr>(raw.data()), b, 1024));
  unsigned short s16 = 0;
  unsigned s32 = 0;
  std::memcpy(&s16, raw.data() + 100, 2);
  std::memcpy(&s32, raw.data() + 1020, 4);
  REQUIRE_TRUE(s16 == 0xbeef && s32 == 0x01020304u, "memset values %x %x", s16, s32);

  // Address range and pointer attributes of device memory.
  CUdeviceptr base = 0;
  size_t size = 0;
  CK(cuMemGetAddressRange_v2(&base, &size, a + 700));
  REQUIRE_TRUE(base == a && size == 1024, "range %llx+%zu", base, size);
  unsigned type = 0;
  CUcontext owner = nullptr;
  CK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, a));
  CK(cuPointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_CONTEXT, a));
  REQUIRE_TRUE(type == CU_MEMORYTYPE_DEVICE && owner == ctx, "type %u", type);

  // Pinned host memory: mapped into the device address space.
  void* pinned = nullptr;
  CK(cuMemHostAlloc(&pinned, 4096, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE));
  CUdeviceptr mapped = 0;
  CK(cuMemHostGetDevicePointer_v2(&mapped, pinned, 0));
  CK(cuMemcpyDtoD_v2(mapped, a, 1024));  // the device writes straight into host memory
  REQUIRE_TRUE(std::memcmp(pinned, raw.data(), 1024) == 0, "mapped pinned memory mismatch");
  CK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, mapped));
  REQUIRE_TRUE(type == CU_MEMORYTYPE_HOST, "pinned memory type %u", type);
  CK(cuMemFreeHost(pinned));

  // Registered (page-locked) user memory used for async copies.
  std::vector<unsigned> user(256, 0);
  CK(cuMemHostRegister_v2(user.data(), user.size() * sizeof(unsigned), CU_MEMHOSTREGISTER_PORTABLE));
  CK(cuMemcpyDtoHAsync_v2(user.data(), a + 512, 512, nullptr));
  CK(cuStreamSynchronize(nullptr));
  REQUIRE_TRUE(user[0] == 0x01020304u && user[127] == 0x01020304u, "registered copy %x", user[0]);
  CK(cuMemHostUnregister(user.data()));

  CK(cuMemFree_v2(a));
  CK(cuMemFree_v2(b));
  CK(cuMemFree_v2(dimg));
  size_t free1 = 0;
  CK(cuMemGetInfo_v2(&free1, &total));
  REQUIRE_TRUE(free1 == free0, "free memory %zu after freeing everything, was %zu", free1, free0);
  teardown_primary_context();
  std::printf("memory_ops: OK\n");
  return 0;
}
