// The zone's NVML without a zone: its pure parts (UUID and PCI strings, size and version rules, the zone's figures
// in NVML's structs), its export list, and the built library loaded with no libvgpu: before nvmlInit everything is
// UNINITIALIZED, and nvmlInit refuses a libcuda.so.1 that is not libvgpu (here: our simulated driver). The zone's
// answers themselves are checked in a zone: tests/integration/nvml-test.sh.
#include <dlfcn.h>

#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "libvgpu/nvml/format.h"
#include "libvgpu/nvml/symbols.h"

using namespace xg::nvml;

TEST_CASE("uuid_string: NVML's GPU-8-4-4-4-12 form of the 16 bytes, lower-case hex") {
  const unsigned char b[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                               0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  const std::string s = uuid_string(b);
  CHECK(s == "GPU-00112233-4455-6677-8899-aabbccddeeff");
  CHECK(s.size() == kUuidChars);
  const unsigned char z[16] = {};
  CHECK(uuid_string(z) == "GPU-00000000-0000-0000-0000-000000000000");
}

TEST_CASE("copy_string: exactly fitting, too small, NULL") {
  char buf[8];
  std::memset(buf, 'x', sizeof buf);
  CHECK(copy_string("abcdefg", buf, 8) == NVML_SUCCESS);
  CHECK(std::string(buf) == "abcdefg");
  std::memset(buf, 'x', sizeof buf);
  CHECK(copy_string("abcdefgh", buf, 8) == NVML_ERROR_INSUFFICIENT_SIZE);  // no room for the NUL
  CHECK(buf[0] == 'x');                                                     // nothing written
  CHECK(copy_string("", buf, 0) == NVML_ERROR_INSUFFICIENT_SIZE);
  CHECK(copy_string("a", nullptr, 8) == NVML_ERROR_INVALID_ARGUMENT);
}

TEST_CASE("PCI bus ids: both formats, and the forms nvmlDeviceGetHandleByPciBusId takes") {
  const PciAddress a{0x1, 0x3b, 0x1f};
  CHECK(bus_id(a) == "00000001:3b:1f.0");
  CHECK(bus_id_legacy(a) == "0001:3b:1f.0");
  CHECK(parse_bus_id("00000001:3b:1f.0") == a);
  CHECK(parse_bus_id("0001:3B:1F.0") == a);
  CHECK(parse_bus_id("1:3b:1f") == a);
  CHECK(parse_bus_id("3b:1f.0") == PciAddress{0, 0x3b, 0x1f});
  for (const char* bad : {"", "3b:1f", "0000:3b:20.0", "0000:3b:1f.8", "0000:13b:1f.0", "000000001:3b:1f.0",
                          "0000:3b:1f.0x", "0000:3b:1f.", "g000:3b:1f.0", "0:0:0:0.0", "::.0"}) {
    CHECK_MESSAGE(!parse_bus_id(bad), bad);
  }
  nvmlPciInfo_t p;
  std::memset(&p, 0xff, sizeof p);
  fill_pci_info(a, &p);
  CHECK(std::string(p.busId) == "00000001:3b:1f.0");
  CHECK(std::string(p.busIdLegacy) == "0001:3b:1f.0");
  CHECK(p.domain == 1);
  CHECK(p.bus == 0x3b);
  CHECK(p.device == 0x1f);
  CHECK(p.pciDeviceId == 0);  // not known in a zone
  nvmlPciInfo_v1_t v1;
  std::memset(&v1, 0xff, sizeof v1);
  fill_pci_info_v1(a, &v1);
  CHECK(std::string(v1.busId) == "0001:3b:1f.0");
  CHECK(v1.reserved3 == 0);
}

TEST_CASE("versioned structs: nvmlMemory_v2 is sizeof | 2 << 24, and only it is accepted") {
  CHECK(nvmlMemory_v2 == 0x02000028u);
  CHECK(check_version(nvmlMemory_v2, nvmlMemory_v2) == NVML_SUCCESS);
  CHECK(check_version(0, nvmlMemory_v2) == NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
  CHECK(check_version((1u << 24) | 40u, nvmlMemory_v2) == NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
  CHECK(check_version((2u << 24) | 32u, nvmlMemory_v2) == NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
}

TEST_CASE("zone memory and utilisation") {
  const ZoneMemory m = zone_memory(64u << 20, 10u << 20);
  CHECK(m.total == 64u << 20);
  CHECK(m.used == 10u << 20);
  CHECK(m.free == 54u << 20);
  CHECK(zone_memory(8, 10).free == 0);  // a quota lowered below the use
  CHECK(percent(0) == 0);
  CHECK(percent(4) == 0);
  CHECK(percent(5) == 1);
  CHECK(percent(999) == 100);
  CHECK(percent(1000) == 100);
  CHECK(percent(5000) == 100);
}

TEST_CASE("process lists: NVML's size protocol, both layouts") {
  const std::vector<Program> two = {{101, 3u << 20}, {202, 5u << 20}};
  unsigned int n = 0;
  CHECK(fill_processes(two, &n, static_cast<nvmlProcessInfo_v1_t*>(nullptr)) == NVML_ERROR_INSUFFICIENT_SIZE);
  CHECK(n == 2);
  nvmlProcessInfo_v1_t v1[3];
  n = 1;
  CHECK(fill_processes(two, &n, v1) == NVML_ERROR_INSUFFICIENT_SIZE);
  CHECK(n == 2);
  n = 3;
  CHECK(fill_processes(two, &n, v1) == NVML_SUCCESS);
  CHECK(n == 2);
  CHECK(v1[1].pid == 202);
  CHECK(v1[1].usedGpuMemory == 5u << 20);
  nvmlProcessInfo_v2_t v2[2];
  n = 2;
  CHECK(fill_processes(two, &n, v2) == NVML_SUCCESS);
  CHECK(v2[0].pid == 101);
  CHECK(v2[0].usedGpuMemory == 3u << 20);
  CHECK(v2[0].gpuInstanceId == 0xFFFFFFFFu);
  CHECK(v2[0].computeInstanceId == 0xFFFFFFFFu);
  n = 0;
  CHECK(fill_processes({}, &n, static_cast<nvmlProcessInfo_v2_t*>(nullptr)) == NVML_SUCCESS);
  CHECK(n == 0);
  n = 2;
  CHECK(fill_processes(two, &n, static_cast<nvmlProcessInfo_v2_t*>(nullptr)) == NVML_ERROR_INVALID_ARGUMENT);
  CHECK(fill_processes(two, nullptr, v2) == NVML_ERROR_INVALID_ARGUMENT);
}

TEST_CASE("error strings and the NVML version string") {
  CHECK(std::string(error_string(NVML_SUCCESS)) == "Success");
  CHECK(std::string(error_string(NVML_ERROR_NOT_SUPPORTED)) == "Not Supported");
  CHECK(std::string(error_string(12345)) == "Unknown Error");
  CHECK(std::string(error_string(-1)) == "Unknown Error");
  for (int c = 0; c <= 29; ++c) CHECK(std::string(error_string(c)) != "Unknown Error");
  CHECK(nvml_version(13000, "580.159.04") == "13.580.159.04");
  CHECK(nvml_version(12040, "") == "");
}

namespace {

std::set<std::string> map_names() {
  std::ifstream map(XG_NVML_EXPORTS);
  REQUIRE(map.good());
  std::set<std::string> names;
  for (std::string line; std::getline(map, line);) {
    const auto b = line.find_first_not_of(' ');
    if (b == std::string::npos || line.compare(b, 4, "nvml") != 0) continue;
    names.insert(line.substr(b, line.find(';') - b));
  }
  return names;
}

using Fn = int (*)();

}  // namespace

TEST_CASE("the built libnvidia-ml.so.1 exports exactly exports.map, which is symbols.h's two tables") {
  std::set<std::string> table;
  size_t rows = 0;
#define XG_NAME(n) table.insert(#n), ++rows;
  XG_NVML_ANSWERED(XG_NAME)
  XG_NVML_NOT_SUPPORTED(XG_NAME)
#undef XG_NAME
  CHECK(rows == table.size());  // no name twice
  const std::set<std::string> names = map_names();
  for (const std::string& n : table) CHECK_MESSAGE(names.count(n) == 1, n, " is in symbols.h, not in exports.map");
  for (const std::string& n : names) CHECK_MESSAGE(table.count(n) == 1, n, " is in exports.map, not in symbols.h");
  void* lib = dlopen(XG_NVML_LIB, RTLD_NOW | RTLD_LOCAL);
  REQUIRE_MESSAGE(lib != nullptr, dlerror());
  for (const std::string& n : names) CHECK_MESSAGE(dlsym(lib, n.c_str()) != nullptr, n);
  CHECK(dlsym(lib, "_ZN2xg4nvml12error_stringEi") == nullptr);  // nothing of ours beyond them
  dlclose(lib);
}

// One test case: the library's state (and which libcuda.so.1 the process holds) carries from step to step.
TEST_CASE("without libvgpu: UNINITIALIZED before nvmlInit, and nvmlInit refuses a libcuda.so.1 that is not ours") {
  void* lib = dlopen(XG_NVML_LIB, RTLD_NOW | RTLD_LOCAL);
  REQUIRE_MESSAGE(lib != nullptr, dlerror());
  auto sym = [&](const char* n) { return dlsym(lib, n); };
  auto init = reinterpret_cast<nvmlReturn_t (*)()>(sym("nvmlInit_v2"));
  auto shutdown = reinterpret_cast<nvmlReturn_t (*)()>(sym("nvmlShutdown"));
  auto count = reinterpret_cast<nvmlReturn_t (*)(unsigned int*)>(sym("nvmlDeviceGetCount_v2"));
  auto by_index = reinterpret_cast<nvmlReturn_t (*)(unsigned int, nvmlDevice_t*)>(sym("nvmlDeviceGetHandleByIndex_v2"));
  auto err = reinterpret_cast<const char* (*)(nvmlReturn_t)>(sym("nvmlErrorString"));
  auto temperature = reinterpret_cast<Fn>(sym("nvmlDeviceGetTemperature"));
  REQUIRE((init != nullptr && shutdown != nullptr && count != nullptr && by_index != nullptr && err != nullptr &&
           temperature != nullptr));
  unsigned int n = 7;
  CHECK(count(&n) == NVML_ERROR_UNINITIALIZED);
  CHECK(n == 7);
  nvmlDevice_t d = nullptr;
  CHECK(by_index(0, &d) == NVML_ERROR_UNINITIALIZED);
  CHECK(temperature() == NVML_ERROR_UNINITIALIZED);
  CHECK(shutdown() == NVML_ERROR_UNINITIALIZED);
  CHECK(std::string(err(NVML_ERROR_DRIVER_NOT_LOADED)) == "Driver Not Loaded");
  // No libcuda.so.1 on this test's library path (or, on a GPU machine, NVIDIA's): no zone to describe.
  const nvmlReturn_t first = init();
  CHECK((first == NVML_ERROR_LIBRARY_NOT_FOUND || first == NVML_ERROR_DRIVER_NOT_LOADED));
  CHECK(count(&n) == NVML_ERROR_UNINITIALIZED);
  // Our simulated driver is a libcuda.so.1 without xen_gpu_zone_info: loaded first, it is the one nvmlInit's
  // dlopen("libcuda.so.1") finds (by SONAME), and it is refused.
  void* sim = dlopen(XG_SIM_CUDA_LIB, RTLD_NOW | RTLD_GLOBAL);
  REQUIRE_MESSAGE(sim != nullptr, dlerror());
  CHECK(init() == NVML_ERROR_DRIVER_NOT_LOADED);
  CHECK(count(&n) == NVML_ERROR_UNINITIALIZED);
  CHECK(temperature() == NVML_ERROR_UNINITIALIZED);
  dlclose(sim);
  dlclose(lib);
}
