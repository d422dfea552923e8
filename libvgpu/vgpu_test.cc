// libvgpu's unit tests: module image sizes (every format, truncated and hostile headers), kernel parameter layouts
// and packing, cuGetProcAddress resolution (versions, per-thread twins, NOT_FOUND), the per-thread context stack,
// calls before cuInit, and the exported symbol set of the built libcuda.so.1.
#include <dlfcn.h>
#include <elf.h>

#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "libvgpu/bulk_copy.h"
#include "libvgpu/image.h"
#include "libvgpu/params.h"
#include "cuda/entry_points.h"
#include "libvgpu/proc_address.h"
#include "libvgpu/ptds.h"
#include "libvgpu/state.h"
#include "libvgpu/zone_info.h"

using namespace xg::vgpu;

namespace {

// A minimal ELF64 image: header, `nsec` section headers at shoff, one section of `body` bytes at 0x100, one
// program header at 64 covering the section.
std::vector<std::byte> make_elf(uint64_t body = 64) {
  std::vector<std::byte> img(0x100 + body + 3 * sizeof(Elf64_Shdr));
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_type = ET_DYN;
  eh.e_machine = EM_X86_64;
  eh.e_phoff = sizeof eh;
  eh.e_phnum = 1;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_shoff = 0x100 + body;
  eh.e_shnum = 3;
  eh.e_shentsize = sizeof(Elf64_Shdr);
  std::memcpy(img.data(), &eh, sizeof eh);
  Elf64_Phdr ph{};
  ph.p_offset = 0x100;
  ph.p_filesz = body;
  std::memcpy(img.data() + eh.e_phoff, &ph, sizeof ph);
  Elf64_Shdr sh[3] = {};
  sh[1].sh_type = SHT_PROGBITS;
  sh[1].sh_offset = 0x100;
  sh[1].sh_size = body;
  sh[2].sh_type = SHT_NOBITS;  // .bss: occupies no file bytes, however large
  sh[2].sh_offset = 0x100;
  sh[2].sh_size = 1ull << 40;
  std::memcpy(img.data() + eh.e_shoff, sh, sizeof sh);
  return img;
}

Elf64_Ehdr header_of(const std::vector<std::byte>& img) {
  Elf64_Ehdr eh;
  std::memcpy(&eh, img.data(), sizeof eh);
  return eh;
}
void set_header(std::vector<std::byte>& img, const Elf64_Ehdr& eh) { std::memcpy(img.data(), &eh, sizeof eh); }

std::vector<std::byte> make_fatbin(uint16_t header_size, uint64_t fat_size, size_t total) {
  std::vector<std::byte> img(total);
  const uint32_t magic = 0xBA55ED50u;
  const uint16_t version = 1;
  std::memcpy(img.data(), &magic, 4);
  std::memcpy(img.data() + 4, &version, 2);
  std::memcpy(img.data() + 6, &header_size, 2);
  std::memcpy(img.data() + 8, &fat_size, 8);
  return img;
}

}  // namespace

TEST_CASE("image: ELF size is the furthest byte any header names") {
  auto img = make_elf();
  ImageExtent e;
  REQUIRE(find_image_extent(img.data(), img.size(), &e));
  CHECK(e.format == ImageFormat::kElf);
  CHECK(e.data == img.data());
  CHECK(e.size == img.size());  // the section header table ends the file
  // With the section table before the section, the section's end wins.
  auto eh = header_of(img);
  CHECK(find_image_extent(img.data(), kMaxImageBytes, &e));
  CHECK(e.size == img.size());
  (void)eh;
}

TEST_CASE("image: truncated and hostile ELF headers are refused") {
  auto img = make_elf();
  ImageExtent e;
  CHECK_FALSE(find_image_extent(img.data(), sizeof(Elf64_Ehdr) - 1, &e));  // header cut short
  CHECK_FALSE(find_image_extent(img.data(), img.size() - 1, &e));         // section table cut short
  auto eh = header_of(img);

  auto bad = img;
  eh.e_shoff = ~0ull - 10;  // offset + table overflows
  set_header(bad, eh);
  CHECK_FALSE(find_image_extent(bad.data(), bad.size(), &e));

  bad = img;
  eh = header_of(img);
  eh.e_shentsize = 32;  // not an Elf64_Shdr
  set_header(bad, eh);
  CHECK_FALSE(find_image_extent(bad.data(), bad.size(), &e));

  bad = img;
  eh = header_of(img);
  eh.e_phnum = 0xffff;  // program header table runs past the image
  set_header(bad, eh);
  CHECK_FALSE(find_image_extent(bad.data(), bad.size(), &e));

  bad = img;
  eh = header_of(img);
  eh.e_ident[EI_CLASS] = ELFCLASS32;
  set_header(bad, eh);
  CHECK_FALSE(find_image_extent(bad.data(), bad.size(), &e));

  // A section claiming bytes past the end of what is there (and an overflowing one).
  bad = img;
  eh = header_of(img);
  Elf64_Shdr sh;
  std::memcpy(&sh, bad.data() + eh.e_shoff + sizeof sh, sizeof sh);
  sh.sh_size = 1ull << 33;
  std::memcpy(bad.data() + eh.e_shoff + sizeof sh, &sh, sizeof sh);
  CHECK_FALSE(find_image_extent(bad.data(), bad.size(), &e));
  sh.sh_offset = ~0ull;
  std::memcpy(bad.data() + eh.e_shoff + sizeof sh, &sh, sizeof sh);
  CHECK_FALSE(find_image_extent(bad.data(), bad.size(), &e));

  // Extended section numbering: e_shnum 0, the count in section 0's sh_size.
  bad = img;
  eh = header_of(img);
  eh.e_shnum = 0;
  set_header(bad, eh);
  std::memcpy(&sh, bad.data() + eh.e_shoff, sizeof sh);
  sh.sh_size = 3;
  std::memcpy(bad.data() + eh.e_shoff, &sh, sizeof sh);
  REQUIRE(find_image_extent(bad.data(), bad.size(), &e));
  CHECK(e.size == bad.size());
  sh.sh_size = 1ull << 60;  // a hostile count
  std::memcpy(bad.data() + eh.e_shoff, &sh, sizeof sh);
  CHECK_FALSE(find_image_extent(bad.data(), bad.size(), &e));
}

TEST_CASE("image: fatbinary and its wrapper") {
  auto fb = make_fatbin(16, 100, 116);
  ImageExtent e;
  REQUIRE(find_image_extent(fb.data(), fb.size(), &e));
  CHECK(e.format == ImageFormat::kFatbin);
  CHECK(e.size == 116);
  CHECK_FALSE(find_image_extent(fb.data(), 115, &e));  // truncated body
  CHECK_FALSE(find_image_extent(fb.data(), 15, &e));   // truncated header
  auto small = make_fatbin(8, 100, 116);               // header size below the header itself
  CHECK_FALSE(find_image_extent(small.data(), small.size(), &e));
  auto huge = make_fatbin(16, ~0ull - 4, 116);         // overflow
  CHECK_FALSE(find_image_extent(huge.data(), huge.size(), &e));

  struct Wrapper {
    int32_t magic, version;
    const void* data;
    const void* filename;
  } w{0x466243B1, 1, fb.data(), nullptr};
  REQUIRE(find_image_extent(&w, sizeof w, &e, fb.size()));
  CHECK(e.format == ImageFormat::kFatbin);
  CHECK(e.data == fb.data());  // the fatbinary is staged, not the wrapper
  CHECK(e.size == 116);
  CHECK_FALSE(find_image_extent(&w, sizeof w - 1, &e, fb.size()));  // wrapper cut short
  CHECK_FALSE(find_image_extent(&w, sizeof w, &e, 100));            // target cut short
  w.data = nullptr;
  CHECK_FALSE(find_image_extent(&w, sizeof w, &e));
  const char not_fatbin[8] = "abcdefg";
  w.data = not_fatbin;
  CHECK_FALSE(find_image_extent(&w, sizeof w, &e, sizeof not_fatbin));
}

TEST_CASE("image: PTX is NUL-terminated text") {
  const char ptx[] = ".version 8.0\n.target sm_90\n";
  ImageExtent e;
  REQUIRE(find_image_extent(ptx, sizeof ptx, &e));
  CHECK(e.format == ImageFormat::kText);
  CHECK(e.size == sizeof ptx);  // NUL included
  const char tiny[] = "ab";     // shorter than any magic: read no further than its NUL
  REQUIRE(find_image_extent(tiny, sizeof tiny, &e));
  CHECK(e.size == 3);
  const char empty[] = "";
  CHECK_FALSE(find_image_extent(empty, sizeof empty, &e));
  const char unterminated[4] = {'a', 'b', 'c', 'd'};
  CHECK_FALSE(find_image_extent(unterminated, sizeof unterminated, &e));
  CHECK_FALSE(find_image_extent(nullptr, 100, &e));
}

TEST_CASE("params: layouts from the worker are validated") {
  ParamLayout l;
  const ParamSlot slots[2] = {{0, 8}, {8, 4}};
  auto tail = std::as_bytes(std::span(slots));
  REQUIRE(parse_layout(xg::idm::FunctionRsp{1, 2, 12}, tail, &l));
  CHECK(l.slots.size() == 2);
  CHECK(l.bytes == 12);
  CHECK_FALSE(parse_layout(xg::idm::FunctionRsp{1, 2, 11}, tail, &l));                // slot past the end
  CHECK_FALSE(parse_layout(xg::idm::FunctionRsp{1, 3, 12}, tail, &l));                // tail too short
  CHECK_FALSE(parse_layout(xg::idm::FunctionRsp{1, 1, 12}, tail, &l));                // tail too long
  CHECK_FALSE(parse_layout(xg::idm::FunctionRsp{1, 0, 40000}, {}, &l));               // over the driver's limit
  // A driver without cuFuncGetParamInfo: kernelParams launches are refused, `extra` buffers pass through.
  ParamLayout unknown;
  REQUIRE(parse_layout(xg::idm::FunctionRsp{1, xg::idm::kParamLayoutUnknown, 0}, {}, &unknown));
  CHECK_FALSE(unknown.known);
  std::vector<std::byte> packed;
  int arg = 5;
  void* kp[] = {&arg};
  CHECK(pack_params(unknown, kp, nullptr, &packed) == CUDA_ERROR_NOT_SUPPORTED);
  size_t sz = sizeof arg;
  void* ex[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &arg, CU_LAUNCH_PARAM_BUFFER_SIZE, &sz, CU_LAUNCH_PARAM_END};
  CHECK(pack_params(unknown, nullptr, ex, &packed) == CUDA_SUCCESS);
  CHECK(packed.size() == sizeof arg);
  const ParamSlot wrap[1] = {{0xfffffff0u, 0x20}};
  CHECK_FALSE(parse_layout(xg::idm::FunctionRsp{1, 1, 16}, std::as_bytes(std::span(wrap)), &l));
  REQUIRE(parse_layout(xg::idm::FunctionRsp{1, 0, 0}, {}, &l));
  CHECK(l.slots.empty());
}

TEST_CASE("params: kernelParams are packed by the layout, extra buffers pass through") {
  ParamLayout l{{{0, 8}, {8, 4}, {16, 8}}, 24};
  uint64_t a = 0x1122334455667788ull;
  uint32_t b = 0xdeadbeef;
  double c = 2.5;
  void* params[] = {&a, &b, &c};
  std::vector<std::byte> out;
  REQUIRE(pack_params(l, params, nullptr, &out) == CUDA_SUCCESS);
  REQUIRE(out.size() == 24);
  CHECK(std::memcmp(out.data(), &a, 8) == 0);
  CHECK(std::memcmp(out.data() + 8, &b, 4) == 0);
  CHECK(std::memcmp(out.data() + 16, &c, 8) == 0);
  CHECK(out[12] == std::byte{0});  // padding is zero

  void* with_null[] = {&a, nullptr, &c};
  CHECK(pack_params(l, with_null, nullptr, &out) == CUDA_ERROR_INVALID_VALUE);
  CHECK(pack_params(l, nullptr, nullptr, &out) == CUDA_ERROR_INVALID_VALUE);  // parameters missing

  unsigned char buffer[24];
  for (int i = 0; i < 24; ++i) buffer[i] = static_cast<unsigned char>(i);
  size_t size = sizeof buffer;
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buffer, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
  REQUIRE(pack_params(l, nullptr, extra, &out) == CUDA_SUCCESS);
  CHECK(std::memcmp(out.data(), buffer, 24) == 0);
  CHECK(pack_params(l, params, extra, &out) == CUDA_ERROR_INVALID_VALUE);  // both
  size = 23;
  CHECK(pack_params(l, nullptr, extra, &out) == CUDA_ERROR_INVALID_VALUE);  // buffer too small
  void* bad_key[] = {reinterpret_cast<void*>(7), buffer, CU_LAUNCH_PARAM_END};
  CHECK(pack_params(l, nullptr, bad_key, &out) == CUDA_ERROR_INVALID_VALUE);

  ParamLayout none;
  CHECK(pack_params(none, nullptr, nullptr, &out) == CUDA_SUCCESS);
  CHECK(out.empty());
}

TEST_CASE("proc address: base names resolve by CUDA version") {
  void* fn = nullptr;
  CUdriverProcAddressQueryResult st{};
  REQUIRE(resolve_proc("cuMemAlloc", &fn, 12040, 0, &st) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuMemAlloc_v2));
  CHECK(st == CU_GET_PROC_ADDRESS_SUCCESS);
  REQUIRE(resolve_proc("cuDeviceGetUuid", &fn, 11030, 0, &st) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuDeviceGetUuid));
  REQUIRE(resolve_proc("cuDeviceGetUuid", &fn, 11040, 0, &st) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuDeviceGetUuid_v2));
  REQUIRE(resolve_proc("cuGetProcAddress", &fn, 12000, 0, &st) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuGetProcAddress_v2));
  REQUIRE(resolve_proc("cuGetProcAddress", &fn, 11080, 0, nullptr) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuGetProcAddress));

  // Known, but not at that version.
  fn = reinterpret_cast<void*>(1);
  CHECK(resolve_proc("cuFuncGetParamInfo", &fn, 12030, 0, &st) == CUDA_SUCCESS);  // v2: NULL and a reason
  CHECK(st == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  CHECK(fn == nullptr);
  CHECK(resolve_proc("cuMemAlloc", &fn, 3010, 0, &st, xg::cuda::ProcApi::kV1) == CUDA_ERROR_NOT_FOUND);
  CHECK(st == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
}

TEST_CASE("proc address: per-thread default stream twins") {
  void* fn = nullptr;
  const auto ptds = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  REQUIRE(resolve_proc("cuLaunchKernel", &fn, 12040, ptds, nullptr) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuLaunchKernel_ptsz));
  REQUIRE(resolve_proc("cuLaunchKernel", &fn, 12040, CU_GET_PROC_ADDRESS_LEGACY_STREAM, nullptr) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuLaunchKernel));
  REQUIRE(resolve_proc("cuLaunchKernel", &fn, 12040, CU_GET_PROC_ADDRESS_DEFAULT, nullptr) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuLaunchKernel));
  REQUIRE(resolve_proc("cuMemcpyHtoD", &fn, 12040, ptds, nullptr) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuMemcpyHtoD_v2_ptds));
  REQUIRE(resolve_proc("cuMemcpyHtoDAsync", &fn, 12040, ptds, nullptr) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuMemcpyHtoDAsync_v2_ptsz));
  REQUIRE(resolve_proc("cuStreamSynchronize", &fn, 12040, ptds, nullptr) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuStreamSynchronize_ptsz));
  // Calls with no stream have no twin: the same function either way.
  REQUIRE(resolve_proc("cuMemAlloc", &fn, 12040, ptds, nullptr) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuMemAlloc_v2));
}

TEST_CASE("proc address: everything else is not found (v2: NULL and SYMBOL_NOT_FOUND; v1: NOT_FOUND)") {
  void* fn = reinterpret_cast<void*>(1);
  CUdriverProcAddressQueryResult st{};
  CHECK(resolve_proc("cuGraphLaunch", &fn, 12040, 0, &st) == CUDA_SUCCESS);
  CHECK(st == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  CHECK(fn == nullptr);
  CHECK(resolve_proc("cuMemAlloc_v2", &fn, 12040, 0, &st) == CUDA_SUCCESS);  // versioned names are not bases
  CHECK(st == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  CHECK(resolve_proc("", &fn, 12040, 0, &st, xg::cuda::ProcApi::kV1) == CUDA_ERROR_NOT_FOUND);
  CHECK(resolve_proc(nullptr, &fn, 12040, 0, &st) == CUDA_ERROR_INVALID_VALUE);
  CHECK(resolve_proc("cuInit", nullptr, 12040, 0, &st) == CUDA_ERROR_INVALID_VALUE);
  CHECK(resolve_proc("cuInit", &fn, 12040, 4, &st) == CUDA_ERROR_INVALID_VALUE);  // unknown flag
  // The exported entry points answer the same way, before cuInit.
  fn = reinterpret_cast<void*>(1);
  CHECK(cuGetProcAddress_v2("cuGraphLaunch", &fn, 12040, 0, &st) == CUDA_SUCCESS);
  CHECK(fn == nullptr);
  CHECK(st == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  CHECK(cuGetProcAddress("cuGraphLaunch", &fn, 12040, 0) == CUDA_ERROR_NOT_FOUND);
  CHECK(cuGetProcAddress("cuInit", &fn, 12040, 0) == CUDA_SUCCESS);
  CHECK(fn == reinterpret_cast<void*>(&cuInit));
}

TEST_CASE("context stack: push, pop, set, remove") {
  ContextStack s;
  CHECK(s.current() == 0);
  uint64_t out = 99;
  CHECK_FALSE(s.pop(&out));
  s.set(0);  // unbinding nothing is fine
  CHECK(s.depth() == 0);
  s.set(10);  // onto an empty stack: pushes
  CHECK(s.current() == 10);
  s.push(20);
  s.push(30);
  CHECK(s.current() == 30);
  s.set(40);  // replaces the top
  CHECK(s.depth() == 3);
  CHECK(s.current() == 40);
  REQUIRE(s.pop(&out));
  CHECK(out == 40);
  CHECK(s.current() == 20);
  s.push(10);
  s.remove(10);  // a destroyed context leaves the stack entirely
  CHECK(s.depth() == 1);
  CHECK(s.current() == 20);
  s.set(0);  // pops
  CHECK(s.current() == 0);
}

TEST_CASE("context stack: one per thread") {
  this_thread_contexts().push(7);
  uint64_t seen = 1;
  std::thread t([&] { seen = this_thread_contexts().current(); });
  t.join();
  CHECK(seen == 0);
  CHECK(this_thread_contexts().current() == 7);
  this_thread_contexts().remove(7);
}

TEST_CASE("before cuInit: errors, versions and proc addresses work; the rest is NOT_INITIALIZED") {
  const char* name = nullptr;
  CHECK(cuGetErrorName(CUDA_ERROR_INVALID_VALUE, &name) == CUDA_SUCCESS);
  CHECK(std::string(name) == "CUDA_ERROR_INVALID_VALUE");
  CHECK(cuGetErrorString(CUDA_ERROR_NOT_FOUND, &name) == CUDA_SUCCESS);
  CHECK(std::string(name) == "named symbol not found");
  CHECK(cuGetErrorName(static_cast<CUresult>(12345), &name) == CUDA_ERROR_INVALID_VALUE);
  CHECK(name == nullptr);
  int v = 0;
  CHECK(cuDriverGetVersion(&v) == CUDA_SUCCESS);
  CHECK(v == CUDA_VERSION);
  CUdeviceptr p = 0;
  CHECK(cuMemAlloc_v2(&p, 16) == CUDA_ERROR_NOT_INITIALIZED);
  CUcontext ctx = nullptr;
  CHECK(cuCtxGetCurrent(&ctx) == CUDA_ERROR_NOT_INITIALIZED);
  CHECK(cuLaunchKernel_ptsz(nullptr, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr) == CUDA_ERROR_NOT_INITIALIZED);
}

TEST_CASE("the built libcuda.so.1 exports exactly exports.map, every table entry among them") {
  std::ifstream map(XG_VGPU_EXPORTS);
  REQUIRE(map.good());
  std::set<std::string> names;
  for (std::string line; std::getline(map, line);) {
    const auto b = line.find_first_not_of(' ');
    if (b == std::string::npos || line.compare(b, 2, "cu") != 0) continue;
    names.insert(line.substr(b, line.find(';') - b));
  }
  CHECK(names.size() == 154);
  // exports.map names exactly the entry-point table's symbols and their per-thread twins (cuda/entry_points.h).
  std::set<std::string> table;
#define XG_NAME_E(base, version, symbol) table.insert(#symbol);
#define XG_NAME_T(base, version, symbol, twin) table.insert(#symbol), table.insert(#twin);
  XG_CUDA_ALL_ENTRY_POINTS(XG_NAME_E, XG_NAME_T)
#undef XG_NAME_E
#undef XG_NAME_T
  CHECK(names == table);
  for (const std::string& n : table) CHECK_MESSAGE(names.count(n) == 1, n, " is in the table, not in exports.map");
  for (const std::string& n : names) CHECK_MESSAGE(table.count(n) == 1, n, " is in exports.map, not in the table");
  for (const ProcEntry& e : proc_entries()) CHECK(e.fn != nullptr);
  void* lib = dlopen(XG_VGPU_LIB, RTLD_NOW | RTLD_LOCAL);
  REQUIRE_MESSAGE(lib != nullptr, dlerror());
  for (const std::string& n : names) CHECK_MESSAGE(dlsym(lib, n.c_str()) != nullptr, n);
  // Nothing of ours beyond the entry points.
  CHECK(dlsym(lib, "_ZN2xg4vgpu5stateEv") == nullptr);
  CHECK(dlsym(lib, "_ZN2xg4cuda10error_nameEi") == nullptr);
  // Its own cuGetProcAddress hands out its own exports.
  using GetProc = CUresult (*)(const char*, void**, int, cuuint64_t);
  auto get = reinterpret_cast<GetProc>(dlsym(lib, "cuGetProcAddress"));
  REQUIRE(reinterpret_cast<void*>(get) != nullptr);
  void* fn = nullptr;
  REQUIRE(get("cuEventRecord", &fn, 12040, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) == CUDA_SUCCESS);
  CHECK(fn == dlsym(lib, "cuEventRecord_ptsz"));
  REQUIRE(get("cuMemcpy2D", &fn, 12040, 0) == CUDA_SUCCESS);
  CHECK(fn == dlsym(lib, "cuMemcpy2D_v2"));
  // Our one export that is not an entry point (libvgpu/zone_info.h): there for the zone's NVML, answered only after
  // cuInit, and never handed out by cuGetProcAddress.
  void* zone_info_sym = dlsym(lib, XEN_GPU_ZONE_INFO_SYMBOL);
  REQUIRE(zone_info_sym != nullptr);
  auto zone_info = reinterpret_cast<xen_gpu_zone_info_fn>(zone_info_sym);
  xen_gpu_zone_info info{};
  info.struct_size = sizeof info;
  CHECK(zone_info(&info) == CUDA_ERROR_NOT_INITIALIZED);
  fn = reinterpret_cast<void*>(1);
  CHECK(get(XEN_GPU_ZONE_INFO_SYMBOL, &fn, 12040, 0) == CUDA_ERROR_NOT_FOUND);
  CHECK(fn == nullptr);
  dlclose(lib);
}

TEST_CASE("bulk_copy: every alignment and length, streaming or not, copies exactly the bytes") {
  std::vector<std::byte> src(3 << 20), dst(3 << 20);
  for (size_t i = 0; i < src.size(); ++i) src[i] = std::byte(i * 131 + 7);
  for (bool stream : {false, true}) {
    for (size_t s_off : {0u, 1u, 15u, 64u}) {
      for (size_t d_off : {0u, 3u, 16u, 33u}) {
        for (size_t n : {0u, 1u, 63u, 4095u, 4096u, 4097u, 65537u, 2u << 20}) {
          std::fill(dst.begin(), dst.end(), std::byte{0xee});
          xg::vgpu::bulk_copy(dst.data() + d_off, src.data() + s_off, n, stream);
          CHECK(std::memcmp(dst.data() + d_off, src.data() + s_off, n) == 0);
          CHECK(dst[d_off + n] == std::byte{0xee});  // nothing past the end
          if (d_off > 0) CHECK(dst[d_off - 1] == std::byte{0xee});
        }
      }
    }
  }
}
