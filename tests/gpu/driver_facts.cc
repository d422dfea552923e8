// driver_facts: what the host's real libcuda.so.1 answers to the questions our code builds on, printed as text
// and written as JSON, so that one short run on a GPU machine records them all:
//   a. cuDriverGetVersion;
//   b. cuGetProcAddress_v2 for every base name the driver exports (its .dynsym), every name of our entry-point
//      table (cuda/entry_points.h) and a list of names cudart and PyTorch ask for, at every CUDA version
//      (MAJOR*1000 + MINOR*10) up to the driver's, with flags 0 and with PER_THREAD_DEFAULT_STREAM: the version at
//      which each answer changes and to which exported symbol; symbols exported but returned at no version; and
//      every row of XG_CUDA_ENTRY_POINTS the driver contradicts (the check that our table is the driver's);
//   c. cuGetExportTable for each private table UUID cudart/cuBLAS are known to ask for, before and after cuInit:
//      result, size word, which slots are non-NULL; an unknown UUID and NULL arguments; the INTEGRITY_CHECK slot
//      called with its recorded inputs (a test vector for an implementation);
//   d. cuGetProcAddress_v2 edge cases: "" at version 0, an unknown name, a version newer than the driver.
// Calls that might crash the driver (NULL arguments, undocumented slots) run in child processes, one restart per
// crash, so a crash is itself a recorded fact. No CUDA toolkit: the prototypes are ours (cuda/cuda_abi.h) and
// the driver is dlopened. Exit 77 (a visible SKIP) without NVIDIA's driver; 1 when our table contradicts it.
// XG_DRIVER_FACTS_LIB=PATH dlopens PATH instead (no NVIDIA check): the simulated driver, to test this program.
// Usage: driver_facts [JSON_FILE]
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cuda/cuda_abi.h"
#include "cuda/entry_points.h"
#include "cuda/errors.h"

namespace {

using GetProcV2 = CUresult (*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*);
using GetExportTable = CUresult (*)(const void**, const CUuuid*);  // not in cuda_abi.h: the driver's private ABI
using DriverGetVersion = CUresult (*)(int*);
using Init = CUresult (*)(unsigned);
using DeviceGetCount = CUresult (*)(int*);
using DeviceGet = CUresult (*)(CUdevice*, int);
using DeviceGetUuid = CUresult (*)(CUuuid*, CUdevice);
using DeviceGetAttribute = CUresult (*)(int*, int, CUdevice);
using DeviceGetName = CUresult (*)(char*, int, CUdevice);
using IntegrityFn = CUresult (*)(uint32_t, uint64_t, uint64_t*);

void* g_lib = nullptr;
GetProcV2 g_proc = nullptr;
GetExportTable g_export = nullptr;
int g_driver_version = 0;

std::string rc_name(int rc) {
  const char* n = xg::cuda::error_name(rc);
  return n != nullptr ? n : "CUresult(" + std::to_string(rc) + ")";
}
const char* status_name(int s) {
  switch (s) {
    case CU_GET_PROC_ADDRESS_SUCCESS: return "SUCCESS";
    case CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND: return "SYMBOL_NOT_FOUND";
    case CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT: return "VERSION_NOT_SUFFICIENT";
    default: return "?";
  }
}
std::string hex(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "0x%" PRIx64, v);
  return b;
}
std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
    else o += c;
  }
  return o + "\"";
}

// ----- the driver's exported cu* functions, from its .dynsym (the file on disk, section headers) -----------------
std::vector<std::string> exported_functions(const char* path) {
  std::vector<std::string> out;
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  struct stat st{};
  if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(Elf64_Ehdr))) {
    close(fd);
    return out;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return out;
  const auto* base = static_cast<const unsigned char*>(map);
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  const bool ok = std::memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
                  eh->e_shoff != 0 && eh->e_shoff + size_t{eh->e_shnum} * sizeof(Elf64_Shdr) <= size;
  if (ok) {
    const auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; ++i) {
      if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum) continue;
      const Elf64_Shdr& str = sh[sh[i].sh_link];
      if (sh[i].sh_offset + sh[i].sh_size > size || str.sh_offset + str.sh_size > size) continue;
      const auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sh[i].sh_offset);
      const size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
      for (size_t k = 0; k < n; ++k) {
        if (ELF64_ST_TYPE(syms[k].st_info) != STT_FUNC || syms[k].st_shndx == SHN_UNDEF) continue;
        if (syms[k].st_name >= str.sh_size) continue;
        const char* name = reinterpret_cast<const char*>(base + str.sh_offset + syms[k].st_name);
        const size_t len = strnlen(name, str.sh_size - syms[k].st_name);
        if (len > 2 && name[0] == 'c' && name[1] == 'u') out.emplace_back(name, len);
      }
    }
  }
  munmap(map, size);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// cuMemcpyHtoD_v2_ptds -> cuMemcpyHtoD
std::string base_of(std::string s) {
  for (const char* suf : {"_ptds", "_ptsz"})
    if (s.size() > 5 && s.compare(s.size() - 5, 5, suf) == 0) s.resize(s.size() - 5);
  const size_t v = s.rfind("_v");
  if (v != std::string::npos && v + 2 < s.size() &&
      std::all_of(s.begin() + static_cast<long>(v) + 2, s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    s.resize(v);
  return s;
}

std::map<const void*, std::string> g_sym_of;  // exported function address -> name

std::string name_of(const void* p) {
  if (p == nullptr) return "NULL";
  if (auto it = g_sym_of.find(p); it != g_sym_of.end()) return it->second;
  Dl_info dl{};
  std::string s = "unexported " + hex(reinterpret_cast<uintptr_t>(p));
  if (dladdr(p, &dl) != 0 && dl.dli_sname != nullptr)
    s += " (" + std::string(dl.dli_sname) + "+" + hex(reinterpret_cast<uintptr_t>(p) -
                                                      reinterpret_cast<uintptr_t>(dl.dli_saddr)) + ")";
  return s;
}

void note_symbol(const std::string& name) {
  if (void* p = dlsym(g_lib, name.c_str()); p != nullptr) g_sym_of.emplace(p, name);
}

// ----- b. cuGetProcAddress_v2 over versions ----------------------------------------------------------------------
struct Answer {
  int rc = -1;
  int status = -1;
  std::string sym;
  bool operator==(const Answer&) const = default;
};
std::string describe(const Answer& a) {
  if (a.rc != CUDA_SUCCESS) return rc_name(a.rc) + "/" + status_name(a.status);
  if (a.status != CU_GET_PROC_ADDRESS_SUCCESS) return std::string(status_name(a.status));
  return a.sym;
}

Answer ask(const char* name, int version, cuuint64_t flags) {
  void* fn = reinterpret_cast<void*>(uintptr_t{0x5a5a5a5a});
  CUdriverProcAddressQueryResult st = static_cast<CUdriverProcAddressQueryResult>(-1);
  Answer a;
  a.rc = g_proc(name, &fn, version, flags, &st);
  a.status = static_cast<int>(st);
  a.sym = fn == reinterpret_cast<void*>(uintptr_t{0x5a5a5a5a}) ? "(untouched)" : name_of(fn);
  return a;
}

std::vector<int> g_versions;  // every CUDA version MAJOR*1000 + MINOR*10 from 2000 up to the driver's

struct BaseFacts {
  std::vector<Answer> legacy, ptds;  // per g_versions
  // [(version, answer)] where the answer changes
  static std::vector<std::pair<int, Answer>> changes(const std::vector<Answer>& v) {
    std::vector<std::pair<int, Answer>> out;
    for (size_t i = 0; i < v.size(); ++i)
      if (i == 0 || !(v[i] == v[i - 1])) out.emplace_back(g_versions[i], v[i]);
    return out;
  }
  int first_version_of(const std::string& sym, bool per_thread) const {
    const auto& v = per_thread ? ptds : legacy;
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i].rc == CUDA_SUCCESS && v[i].sym == sym) return g_versions[i];
    return 0;
  }
  Answer at(int version, bool per_thread) const {
    const auto& v = per_thread ? ptds : legacy;
    Answer best;  // the newest listed version <= `version`
    for (size_t i = 0; i < v.size() && g_versions[i] <= version; ++i) best = v[i];
    return best;
  }
};

std::string change_line(const std::vector<std::pair<int, Answer>>& ch) {
  std::string s;
  for (const auto& [ver, a] : ch) {
    if (s.empty() && a.rc == CUDA_SUCCESS && a.status == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT) continue;
    if (!s.empty()) s += ", ";
    s += std::to_string(ver) + "->" + describe(a);
  }
  if (ch.size() == 1 && (ch[0].second.rc != CUDA_SUCCESS || ch[0].second.status != CU_GET_PROC_ADDRESS_SUCCESS))
    return describe(ch[0].second) + " at every version";
  return s.empty() ? "never found" : s;
}

// ----- c. private export tables ------------------------------------------------------------------------------------
struct TableId {
  const char* name;
  unsigned char uuid[16];
  bool sized;  // word 0 = size in bytes (all but CLS)
};
// Memory-order UUID bytes, from what cudart/cuBLAS are recorded to request (see STATUS.md, "libvgpu").
const TableId kTables[] = {
    {"CUDART_INTERFACE", {0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9}, true},
    {"TOOLS_RUNTIME_CALLBACK_HOOKS", {0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74, 0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66}, true},
    {"TOOLS_TLS", {0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc}, true},
    {"CONTEXT_LOCAL_STORAGE_V0301", {0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93}, false},
    {"INTEGRITY_CHECK", {0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2}, true},
    {"CONTEXT_CHECKS", {0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e}, true},
    {"CTX_CREATE_BYPASS", {0x0c, 0xa5, 0x0b, 0x8c, 0x10, 0x04, 0x92, 0x9a, 0x89, 0xa7, 0xd0, 0xdf, 0x10, 0xe7, 0x72, 0x86}, true},
    {"HEAP_ACCESS", {0x19, 0x5b, 0xcb, 0xf4, 0xd6, 0x7d, 0x02, 0x4a, 0xac, 0xc5, 0x1d, 0x29, 0xce, 0xa6, 0x31, 0xae}, true},
    {"DEVICE_EXTENDED_RT", {0xb1, 0x05, 0x41, 0xe1, 0xf7, 0xc7, 0xc7, 0x4a, 0x9f, 0x64, 0xf2, 0x23, 0xbe, 0x99, 0xf1, 0xe2}, true},
    {"HYBRID_CUDART", {0xdd, 0x9e, 0x98, 0xa4, 0xf4, 0x10, 0x48, 0x44, 0x99, 0xb0, 0xe2, 0xae, 0xb7, 0xb4, 0x32, 0xb5}, true},
    {"TOOLS_CONTEXT", {0x21, 0x31, 0x8c, 0x60, 0x97, 0x14, 0x32, 0x48, 0x8c, 0xa6, 0x41, 0xff, 0x73, 0x24, 0xc8, 0xf2}, true},
    {"TOOLS_MODULE", {0x6e, 0x16, 0x3f, 0xbe, 0xb9, 0x58, 0x44, 0x4d, 0x83, 0x5c, 0xe1, 0x82, 0xaf, 0xf1, 0x99, 0x1e}, true},
    {"CUBLAS_INIT_f8cff951", {0xf8, 0xcf, 0xf9, 0x51, 0x21, 0x46, 0x8b, 0x4e, 0xb9, 0xe2, 0xfb, 0x46, 0x9e, 0x7c, 0x0d, 0xd9}, true},
    {"UNKNOWN_da9151d3", {0xda, 0x91, 0x51, 0xd3, 0x3a, 0xe6, 0xcc, 0x41, 0xa5, 0xc0, 0x4f, 0x26, 0xd5, 0x33, 0xe3, 0x28}, true},
    {"LIBRARY_69a28e9f", {0x69, 0xa2, 0x8e, 0x9f, 0x24, 0x49, 0x8b, 0x47, 0xb0, 0x30, 0xc5, 0xda, 0x33, 0x0e, 0xa4, 0xe9}, true},
    {"DLSS_NGX", {0x7f, 0x92, 0x12, 0xd6, 0x26, 0x1d, 0xdd, 0x4d, 0x8a, 0xf6, 0x38, 0xdd, 0x1a, 0xeb, 0x10, 0xae}, true},
    {"OPTICAL_FLOW", {0x9a, 0xf0, 0x70, 0x7b, 0x8e, 0x2d, 0xd8, 0x4c, 0x8e, 0x4e, 0xb9, 0x94, 0xc8, 0x2d, 0xdc, 0x35}, true},
};

CUuuid to_uuid(const unsigned char (&b)[16]) {
  CUuuid u;
  std::memcpy(u.bytes, b, 16);
  return u;
}

struct TableFacts {
  std::string name;
  int rc = -1;
  uint64_t word0 = 0;
  bool sized = false;
  std::string slots;  // '1' non-NULL, '0' NULL, per slot (sized: slots 1..n-1; unsized: words 0.. up to NULL, max 16)
  bool same_pointer_again = false;
  const void* table = nullptr;
};

TableFacts export_table(const TableId& t) {
  TableFacts f;
  f.name = t.name;
  const CUuuid u = to_uuid(t.uuid);
  if (g_export == nullptr) return f;  // rc -1: not exported (only with XG_DRIVER_FACTS_LIB)
  const void* table = reinterpret_cast<const void*>(uintptr_t{0x5a5a5a5a});
  f.rc = g_export(&table, &u);
  if (f.rc != CUDA_SUCCESS || table == nullptr || table == reinterpret_cast<const void*>(uintptr_t{0x5a5a5a5a}))
    return f;
  f.table = table;
  const auto* w = static_cast<const uint64_t*>(table);
  f.word0 = w[0];
  // A first word that looks like an address is a function pointer: no size word (CLS; ZLUDA's tracer decides so).
  f.sized = w[0] < 0x10000;
  if (f.sized) {
    const uint64_t n = std::min<uint64_t>(w[0] / 8, 512);
    for (uint64_t i = 1; i < n; ++i) f.slots += w[i] != 0 ? '1' : '0';
  } else {
    for (int i = 0; i < 16; ++i) {
      f.slots += w[i] != 0 ? '1' : '0';
      if (w[i] == 0) break;
    }
  }
  const void* again = nullptr;
  f.same_pointer_again = g_export(&again, &u) == CUDA_SUCCESS && again == table;
  return f;
}

std::string table_line(const TableFacts& f) {
  std::string s = f.name + ": " + (f.rc == -1 ? std::string("cuGetExportTable is not exported") : rc_name(f.rc));
  if (f.table == nullptr) return s;
  if (f.sized)
    s += ", size " + std::to_string(f.word0) + " bytes (" + std::to_string(f.word0 / 8) + " words), slots 1.." +
         std::to_string(f.word0 / 8 - 1) + " non-NULL: " + f.slots;
  else {
    s += ", no size word, words:";
    for (char c : f.slots) s += c == '1' ? " fn" : " NULL";
  }
  s += f.same_pointer_again ? ", same pointer on a 2nd call" : ", DIFFERENT pointer on a 2nd call";
  return s;
}

// ----- probes in child processes ---------------------------------------------------------------------------------
struct Probe {
  std::string name;
  bool after_init;
  std::function<std::string()> run;
};

// Runs probes[start..] in a forked child (pre-init probes first, then cuInit, then the rest); each result comes
// back as a line. A child that dies leaves the probe it was in as "crashed"; the next child resumes after it.
std::vector<std::pair<std::string, std::string>> run_probes(const std::vector<Probe>& probes) {
  std::vector<std::pair<std::string, std::string>> results;
  size_t next = 0;
  while (next < probes.size()) {
    int fds[2];
    if (pipe(fds) != 0) break;
    fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      alarm(30);
      bool inited = false;
      for (size_t i = next; i < probes.size(); ++i) {
        if (probes[i].after_init && !inited) {
          inited = true;
          auto init = reinterpret_cast<Init>(dlsym(g_lib, "cuInit"));
          const std::string r = "cuInit(0) in the probe child: " + rc_name(init(0));
          dprintf(fds[1], "N %s\n", r.c_str());
        }
        dprintf(fds[1], "B %zu\n", i);
        std::string r = probes[i].run();
        std::replace(r.begin(), r.end(), '\n', ' ');
        dprintf(fds[1], "E %zu %s\n", i, r.c_str());
      }
      _exit(0);
    }
    close(fds[1]);
    std::string data;
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) data.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    long began = -1;
    size_t pos = 0;
    while (pos < data.size()) {
      const size_t eol = data.find('\n', pos);
      const std::string line = data.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
      pos = eol == std::string::npos ? data.size() : eol + 1;
      if (line.rfind("N ", 0) == 0) {
        results.emplace_back("note", line.substr(2));
      } else if (line.rfind("B ", 0) == 0) {
        began = std::stol(line.substr(2));
      } else if (line.rfind("E ", 0) == 0) {
        const size_t sp = line.find(' ', 2);
        const size_t i = std::stoul(line.substr(2, sp - 2));
        results.emplace_back(probes[i].name, sp == std::string::npos ? "" : line.substr(sp + 1));
        next = i + 1;
        began = -1;
      }
    }
    if (began >= 0) {
      const std::string how = WIFSIGNALED(status) ? "crashed (signal " + std::to_string(WTERMSIG(status)) + ")"
                                                  : "child ended in it (status " + std::to_string(status) + ")";
      results.emplace_back(probes[static_cast<size_t>(began)].name, how);
      next = static_cast<size_t>(began) + 1;
    } else if (next < probes.size()) {
      results.emplace_back("note", "probe child ended early, status " + std::to_string(status));
      break;
    }
  }
  return results;
}

std::string proc_probe(const char* sym, int version, cuuint64_t flags) {
  void* fn = reinterpret_cast<void*>(uintptr_t{0x5a5a5a5a});
  CUdriverProcAddressQueryResult st = static_cast<CUdriverProcAddressQueryResult>(-1);
  const CUresult rc = g_proc(sym, &fn, version, flags, &st);
  std::string pfn = fn == reinterpret_cast<void*>(uintptr_t{0x5a5a5a5a}) ? "untouched" : name_of(fn);
  return rc_name(rc) + ", status " + status_name(st) + " (" + std::to_string(static_cast<int>(st)) + "), *pfn " + pfn;
}

std::string export_probe(bool null_table, bool null_uuid, const unsigned char* uuid_bytes) {
  if (g_export == nullptr) return "cuGetExportTable is not exported";
  CUuuid u;
  std::memcpy(u.bytes, uuid_bytes, 16);
  const void* table = reinterpret_cast<const void*>(uintptr_t{0x5a5a5a5a});
  const CUresult rc = g_export(null_table ? nullptr : &table, null_uuid ? nullptr : &u);
  std::string s = rc_name(rc);
  if (!null_table)
    s += table == reinterpret_cast<const void*>(uintptr_t{0x5a5a5a5a}) ? ", *ppExportTable untouched"
         : table == nullptr ? ", *ppExportTable = NULL"
                            : ", *ppExportTable = " + hex(reinterpret_cast<uintptr_t>(table));
  return s;
}

// INTEGRITY_CHECK slot 1 called as cudart calls it, with every input of the hash recorded (the reference: §4 of
// the project's export-table notes): a test vector for an implementation of it.
std::string integrity_probe(uint32_t version, uint64_t seconds) {
  const TableId* ic = nullptr;
  const TableId* ci = nullptr;
  for (const TableId& t : kTables) {
    if (std::strcmp(t.name, "INTEGRITY_CHECK") == 0) ic = &t;
    if (std::strcmp(t.name, "CUDART_INTERFACE") == 0) ci = &t;
  }
  if (g_export == nullptr) return "cuGetExportTable is not exported";
  const void* ic_table = nullptr;
  const void* ci_table = nullptr;
  const CUuuid icu = to_uuid(ic->uuid), ciu = to_uuid(ci->uuid);
  if (g_export(&ic_table, &icu) != CUDA_SUCCESS || ic_table == nullptr) return "no INTEGRITY_CHECK table";
  g_export(&ci_table, &ciu);
  const auto* w = static_cast<const uint64_t*>(ic_table);
  if (w[0] < 16 || w[1] == 0) return "slot 1 missing";
  auto fn = reinterpret_cast<IntegrityFn>(w[1]);
  uint64_t out[2] = {0, 0};
  const CUresult rc = fn(version, seconds, out);
  unsigned char o[16];
  std::memcpy(o, out, 16);
  std::string digest;
  for (unsigned char c : o) {
    char b[4];
    std::snprintf(b, sizeof b, "%02x", c);
    digest += b;
  }
  std::string s = "version " + std::to_string(version) + " seconds " + std::to_string(seconds) + " -> " +
                  rc_name(rc) + " out " + digest + "; inputs: driver_version " + std::to_string(g_driver_version) +
                  " pid " + std::to_string(getpid()) + " tid32 " +
                  hex(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(pthread_self()))) + " cudart_table " +
                  hex(reinterpret_cast<uintptr_t>(ci_table)) + " integrity_table " +
                  hex(reinterpret_cast<uintptr_t>(ic_table)) + " slot1 " + hex(w[1]);
  auto count = reinterpret_cast<DeviceGetCount>(dlsym(g_lib, "cuDeviceGetCount"));
  auto get = reinterpret_cast<DeviceGet>(dlsym(g_lib, "cuDeviceGet"));
  auto uuid = reinterpret_cast<DeviceGetUuid>(dlsym(g_lib, "cuDeviceGetUuid_v2"));
  auto attr = reinterpret_cast<DeviceGetAttribute>(dlsym(g_lib, "cuDeviceGetAttribute"));
  int n = 0;
  if (count != nullptr && count(&n) == CUDA_SUCCESS && get && uuid && attr) {
    for (int d = 0; d < n; ++d) {
      CUdevice dev = 0;
      CUuuid du{};
      get(&dev, d);
      uuid(&du, dev);
      int dom = -1, bus = -1, pdev = -1;
      attr(&dom, 50, dev);   // CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID
      attr(&bus, 33, dev);   // CU_DEVICE_ATTRIBUTE_PCI_BUS_ID
      attr(&pdev, 34, dev);  // CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID
      s += " dev" + std::to_string(d) + " uuid ";
      for (char c : du.bytes) {
        char b[4];
        std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(c));
        s += b;
      }
      s += " pci " + std::to_string(dom) + ":" + std::to_string(bus) + ":" + std::to_string(pdev);
    }
  }
  return s;
}

// TOOLS_RUNTIME_CALLBACK_HOOKS slots 2 and 6 (void f(u32 **buf, size_t *entries)): how many callback-enable
// entries the driver hands cudart, and whether any is set.
std::string hooks_probe(int slot) {
  const TableId* t = nullptr;
  for (const TableId& x : kTables)
    if (std::strcmp(x.name, "TOOLS_RUNTIME_CALLBACK_HOOKS") == 0) t = &x;
  const CUuuid u = to_uuid(t->uuid);
  const void* table = nullptr;
  if (g_export == nullptr) return "cuGetExportTable is not exported";
  if (g_export(&table, &u) != CUDA_SUCCESS || table == nullptr) return "no table";
  const auto* w = static_cast<const uint64_t*>(table);
  if (w[0] / 8 <= static_cast<uint64_t>(slot) || w[slot] == 0) return "slot missing";
  uint32_t* buf = nullptr;
  size_t entries = 0;
  reinterpret_cast<void (*)(uint32_t**, size_t*)>(w[slot])(&buf, &entries);
  size_t nonzero = 0;
  for (size_t i = 0; buf != nullptr && i < entries && i < 1 << 20; ++i) nonzero += buf[i] != 0;
  return "buffer " + hex(reinterpret_cast<uintptr_t>(buf)) + ", entries " + std::to_string(entries) +
         ", non-zero " + std::to_string(nonzero);
}

// Base names cudart 12/13 and PyTorch are known to ask for, beyond our table (the .dynsym adds every other one).
const char* const kExtraNames[] = {
    "cuCtxGetId", "cuStreamGetCtx", "cuCtxGetDevice", "cuCtxSynchronize", "cuEventElapsedTime", "cuCtxCreate",
    "cuMemPrefetchAsync", "cuMemAdvise", "cuLibraryGetModule", "cuLibraryGetKernelCount", "cuModuleGetLoadingMode",
    "cuMemPoolCreate", "cuMemAllocAsync", "cuMemFreeAsync", "cuStreamBeginCapture", "cuStreamGetCaptureInfo",
    "cuGraphInstantiate", "cuKernelGetAttribute", "cuFuncGetName", "cuDevicePrimaryCtxGetState",
    "cuCtxGetStreamPriorityRange", "cuDeviceGetDefaultMemPool", "cuMemGetAllocationGranularity",
    "cuFuncGetParamInfo", "cuGetExportTable", "cuCtxPushCurrent", "cuCtxPopCurrent", "cuStreamGetId",
    "cuDeviceGetP2PAttribute", "cuDeviceCanAccessPeer", "cuPointerGetAttribute", "cuStreamGetPriority",
    "cuStreamGetFlags", "cuLaunchHostFunc", "cuStreamAddCallback", "cuStreamWaitValue32", "cuStreamWriteValue32",
    "cuStreamBatchMemOp", "cuMemcpyPeer", "cuMemcpyPeerAsync", "cuMemcpy3D", "cuMemcpy3DAsync", "cuMemAllocManaged",
    "cuMemCreate", "cuMemMap", "cuMemUnmap", "cuMemRelease", "cuMemAddressReserve", "cuMemAddressFree",
    "cuMemSetAccess", "cuMemAllocFromPoolAsync", "cuDeviceGetMemPool", "cuMemPoolTrimTo", "cuMemPoolSetAttribute",
    "cuGraphLaunch", "cuGraphExecDestroy", "cuGraphDestroy", "cuStreamEndCapture", "cuStreamIsCapturing",
    "cuThreadExchangeStreamCaptureMode", "cuLibraryLoadFromFile", "cuLibraryGetGlobal", "cuLibraryEnumerateKernels",
    "cuKernelGetName", "cuKernelSetAttribute", "cuKernelGetLibrary", "cuFuncGetModule", "cuFuncSetCacheConfig",
    "cuModuleGetFunctionCount", "cuModuleEnumerateFunctions", "cuLinkCreate", "cuLinkAddData", "cuLinkComplete",
    "cuLinkDestroy", "cuDeviceGetPCIBusId", "cuDeviceGetLuid", "cuDeviceGetTexture1DLinearMaxWidth",
    "cuCtxGetCacheConfig", "cuCtxSetCacheConfig", "cuCtxGetExecAffinity", "cuCtxEnablePeerAccess",
    "cuEventRecordWithFlags", "cuIpcGetMemHandle", "cuIpcOpenMemHandle", "cuMemHostGetFlags", "cuMemRangeGetAttribute",
    "cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags", "cuOccupancyAvailableDynamicSMemPerBlock",
    "cuLaunchCooperativeKernel", "cuFuncLoad", "cuFuncIsLoaded", "cuGreenCtxCreate", "cuStreamGetDevice",
    "cuMemcpyBatchAsync", "cuTensorMapEncodeTiled", "cuProfilerStart", "cuProfilerStop", "cuDeviceGetUuid",
    "cuGetProcAddress",
};

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const char* json_path = argc > 1 ? argv[1] : nullptr;
  const char* lib_override = std::getenv("XG_DRIVER_FACTS_LIB");
  if (lib_override == nullptr && access("/proc/driver/nvidia/version", R_OK) != 0) {
    std::printf("SKIP: no NVIDIA driver on this machine (/proc/driver/nvidia/version is missing)\n");
    return 77;
  }
  g_lib = dlopen(lib_override != nullptr ? lib_override : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (g_lib == nullptr) {
    std::printf("SKIP: dlopen(libcuda.so.1): %s\n", dlerror());
    return 77;
  }
  g_proc = reinterpret_cast<GetProcV2>(dlsym(g_lib, "cuGetProcAddress_v2"));
  g_export = reinterpret_cast<GetExportTable>(dlsym(g_lib, "cuGetExportTable"));
  auto version_fn = reinterpret_cast<DriverGetVersion>(dlsym(g_lib, "cuDriverGetVersion"));
  auto init = reinterpret_cast<Init>(dlsym(g_lib, "cuInit"));
  Dl_info dl{};
  const std::string lib_path =
      dladdr(reinterpret_cast<void*>(init), &dl) != 0 && dl.dli_fname != nullptr ? dl.dli_fname : "?";
  std::printf("library %s\n", lib_path.c_str());
  if (g_proc == nullptr || version_fn == nullptr || init == nullptr ||
      (g_export == nullptr && lib_override == nullptr)) {
    std::printf("SKIP: this libcuda.so.1 lacks cuGetProcAddress_v2/cuGetExportTable (not NVIDIA's driver?)\n");
    return 77;
  }
  std::string nv_version;
  if (FILE* f = std::fopen("/proc/driver/nvidia/version", "r")) {
    char line[512] = {};
    if (std::fgets(line, sizeof line, f) != nullptr) nv_version = line;
    std::fclose(f);
    while (!nv_version.empty() && nv_version.back() == '\n') nv_version.pop_back();
  }
  std::printf("nvidia %s\n", nv_version.c_str());

  // a.
  const CUresult vrc = version_fn(&g_driver_version);
  std::printf("\n== a. cuDriverGetVersion (before cuInit): %s, %d\n", rc_name(vrc).c_str(), g_driver_version);

  // The driver's exported functions and every base name they make.
  const std::vector<std::string> exported = exported_functions(lib_path.c_str());
  for (const std::string& s : exported) note_symbol(s);
  std::set<std::string> bases, first_bases;  // first_bases: ours and the extras, asked first
  for (const std::string& s : exported) bases.insert(base_of(s));
#define XG_DF_E(base, version, sym) first_bases.insert(#base);
#define XG_DF_T(base, version, sym, twin) first_bases.insert(#base);
  XG_CUDA_ALL_ENTRY_POINTS(XG_DF_E, XG_DF_T)
#undef XG_DF_E
#undef XG_DF_T
  for (const char* n : kExtraNames) first_bases.insert(n);
  bases.insert(first_bases.begin(), first_bases.end());
  // Candidates named like variants of each base, in case .dynsym could not be read.
  for (const std::string& b : bases)
    for (const char* v : {"", "_v2", "_v3", "_v4", "_v5"})
      for (const char* s : {"", "_ptds", "_ptsz"}) note_symbol(b + v + s);
  std::printf("exported cu* functions in .dynsym: %zu; base names asked: %zu\n", exported.size(), bases.size());

  // c. (before cuInit)
  std::printf("\n== c. cuGetExportTable before cuInit\n");
  std::vector<TableFacts> before;
  for (const TableId& t : kTables) {
    before.push_back(export_table(t));
    std::printf("  %s\n", table_line(before.back()).c_str());
  }

  // b.
  for (int major = 2; major * 1000 <= g_driver_version; ++major)
    for (int minor = 0; minor < 10; ++minor)
      if (major * 1000 + minor * 10 <= g_driver_version) g_versions.push_back(major * 1000 + minor * 10);
  const timespec t0 = [] { timespec t{}; clock_gettime(CLOCK_MONOTONIC, &t); return t; }();
  std::map<std::string, BaseFacts> facts;
  auto ask_all = [&](const std::string& b) {
    BaseFacts& f = facts[b];
    for (int v : g_versions) {
      f.legacy.push_back(ask(b.c_str(), v, CU_GET_PROC_ADDRESS_DEFAULT));
      f.ptds.push_back(ask(b.c_str(), v, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM));
    }
  };
  auto elapsed = [&t0] {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return double(t.tv_sec - t0.tv_sec) + double(t.tv_nsec - t0.tv_nsec) * 1e-9;
  };
  for (const std::string& b : first_bases) ask_all(b);
  // The driver's other base names, as long as the whole sweep stays within 15 s (it is ~0.1 s per 100k asks on
  // the simulated driver; NVIDIA's lookup speed is unknown).
  size_t skipped = 0;
  for (const std::string& b : bases)
    if (!first_bases.count(b)) {
      if (elapsed() < 15) ask_all(b);
      else ++skipped;
    }
  if (skipped != 0) {
    std::printf("time budget: %zu exported base names were not asked\n", skipped);
    for (auto it = bases.begin(); it != bases.end();) it = facts.count(*it) ? std::next(it) : bases.erase(it);
  }
  timespec t1{};
  clock_gettime(CLOCK_MONOTONIC, &t1);
  std::printf("\n== b. cuGetProcAddress_v2 at %zu versions (%d..%d) x 2 flags x %zu names (%.2f s)\n",
              g_versions.size(), g_versions.empty() ? 0 : g_versions.front(),
              g_versions.empty() ? 0 : g_versions.back(), bases.size(),
              double(t1.tv_sec - t0.tv_sec) + double(t1.tv_nsec - t0.tv_nsec) * 1e-9);
  std::printf("   (BASE: VERSION->SYMBOL at each change; [ptds] = flags PER_THREAD_DEFAULT_STREAM where it differs)\n");
  std::map<std::string, std::vector<std::string>> never_returned;
  for (const auto& [b, f] : facts) {
    const std::string legacy = change_line(BaseFacts::changes(f.legacy));
    const std::string ptds = change_line(BaseFacts::changes(f.ptds));
    std::printf("%s: %s\n", b.c_str(), legacy.c_str());
    if (ptds != legacy) std::printf("  [ptds] %s\n", ptds.c_str());
    std::set<std::string> returned;
    for (const auto* v : {&f.legacy, &f.ptds})
      for (const Answer& a : *v) returned.insert(a.sym);
    for (const std::string& s : exported)
      if (base_of(s) == b && !returned.count(s)) never_returned[b].push_back(s);
  }
  size_t mapped = 0, unexported = 0;
  for (const auto& [b, f] : facts)
    for (const auto* v : {&f.legacy, &f.ptds})
      for (const Answer& a : *v)
        if (a.rc == CUDA_SUCCESS && a.status == CU_GET_PROC_ADDRESS_SUCCESS)
          ++(a.sym.rfind("unexported", 0) == 0 ? unexported : mapped);
  // If the driver hands out internal entry points rather than its exported symbols, every answer reads
  // "unexported": the version steps above still hold, the symbol names (and the MISMATCH lines) then do not.
  std::printf("\nfound answers: %zu are exported symbols, %zu are addresses no exported symbol has\n", mapped,
              unexported);
  std::printf("\n-- exported but returned at no version, by either flag:\n");
  for (const auto& [b, syms] : never_returned) {
    std::string l;
    for (const auto& s : syms) l += " " + s;
    std::printf("  %s:%s\n", b.c_str(), l.c_str());
  }

  // b. our table against the driver
  std::printf("\n-- XG_CUDA_ENTRY_POINTS (cuda/entry_points.h) against the driver\n");
  std::vector<std::string> mismatches, notes;
  std::map<std::string, std::string> newest_ours;
  auto check_row = [&](const char* base, int version, const char* sym, const char* twin) {
    const BaseFacts& f = facts[base];
    newest_ours[base] = sym;  // rows are listed oldest first
    if (dlsym(g_lib, sym) == nullptr) mismatches.push_back(std::string(sym) + ": the driver does not export it");
    const Answer at = f.at(version, false);
    if (at.sym != sym)
      mismatches.push_back(std::string(base) + " @" + std::to_string(version) + ": driver answers " + describe(at) +
                           ", table says " + sym);
    if (const int first = f.first_version_of(sym, false); first != 0 && first != version)
      mismatches.push_back(std::string(base) + ": driver answers " + sym + " from " + std::to_string(first) +
                           ", table says from " + std::to_string(version));
    if (twin != nullptr) {
      const Answer pt = f.at(version, true);
      const int first = f.first_version_of(twin, true);
      if (dlsym(g_lib, twin) == nullptr) mismatches.push_back(std::string(twin) + ": the driver does not export it");
      if (pt.sym != twin)
        notes.push_back(std::string(base) + " [ptds] @" + std::to_string(version) + ": driver answers " +
                        describe(pt) + " (twin " + twin + " from " + (first ? std::to_string(first) : "never") + ")");
      else if (first != version)
        notes.push_back(std::string(base) + " [ptds]: driver answers " + twin + " from " + std::to_string(first));
    }
  };
#define XG_DF_E(base, version, sym) check_row(#base, version, #sym, nullptr);
#define XG_DF_T(base, version, sym, twin) check_row(#base, version, #sym, #twin);
  XG_CUDA_ALL_ENTRY_POINTS(XG_DF_E, XG_DF_T)
#undef XG_DF_E
#undef XG_DF_T
  std::vector<std::string> newer;
  for (const auto& [b, sym] : newest_ours) {
    const Answer now = facts[b].at(g_driver_version, false);
    if (now.sym != sym) newer.push_back(b + ": at " + std::to_string(g_driver_version) + " the driver answers " +
                                        describe(now) + " (our newest row: " + sym + ")");
  }
  for (const auto& m : mismatches) std::printf("MISMATCH %s\n", m.c_str());
  for (const auto& m : notes) std::printf("PTDS-NOTE %s\n", m.c_str());
  for (const auto& m : newer) std::printf("NEWER %s\n", m.c_str());
  std::printf("%zu mismatches, %zu per-thread-stream notes, %zu base names with a newer variant than our table\n",
              mismatches.size(), notes.size(), newer.size());

  // c., d.: probes that could crash, in child processes (before and after cuInit there).
  static const unsigned char kUnknown[16] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                             0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};
  const unsigned char* cudart_uuid = kTables[0].uuid;
  const std::string newer_version = std::to_string(g_driver_version + 10);
  std::vector<Probe> probes = {
      {"d. cuGetProcAddress_v2(\"\", version 0, flags 0)", false, [] { return proc_probe("", 0, 0); }},
      {"d. cuGetProcAddress_v2(\"cuNoSuchFunction\", driver version, 0)", false,
       [] { return proc_probe("cuNoSuchFunction", g_driver_version, 0); }},
      {"d. cuGetProcAddress_v2(\"cuMemAlloc\", driver version + 10 = " + newer_version + ", 0)", false,
       [] { return proc_probe("cuMemAlloc", g_driver_version + 10, 0); }},
      {"d. cuGetProcAddress_v2(\"cuMemAlloc\", 99999, 0)", false, [] { return proc_probe("cuMemAlloc", 99999, 0); }},
      {"d. cuGetProcAddress_v2(\"cuMemAlloc\", 3020, flags 4 (unknown))", false,
       [] { return proc_probe("cuMemAlloc", 3020, 4); }},
      {"d. cuGetProcAddress_v2(\"cuGetProcAddress\", driver version, 0)", false,
       [] { return proc_probe("cuGetProcAddress", g_driver_version, 0); }},
      {"d. cuGetProcAddress_v2(\"cuGetProcAddress_v2\", driver version, 0)", false,
       [] { return proc_probe("cuGetProcAddress_v2", g_driver_version, 0); }},
      {"d. cuGetProcAddress_v2(\"cuMemAlloc_v2\" (a versioned name), driver version, 0)", false,
       [] { return proc_probe("cuMemAlloc_v2", g_driver_version, 0); }},
      {"c. cuGetExportTable(unknown 11..11) before cuInit", false, [] { return export_probe(false, false, kUnknown); }},
      {"c. cuGetExportTable(NULL, CUDART_INTERFACE) before cuInit", false,
       [=] { return export_probe(true, false, cudart_uuid); }},
      {"c. cuGetExportTable(&p, NULL) before cuInit", false, [=] { return export_probe(false, true, cudart_uuid); }},
      {"c. cuGetExportTable(unknown 11..11) after cuInit", true, [] { return export_probe(false, false, kUnknown); }},
      {"c. cuGetExportTable(NULL, CUDART_INTERFACE) after cuInit", true,
       [=] { return export_probe(true, false, cudart_uuid); }},
      {"c. cuGetExportTable(&p, NULL) after cuInit", true, [=] { return export_probe(false, true, cudart_uuid); }},
      {"c. TOOLS_RUNTIME_CALLBACK_HOOKS slot 2 (enable buffer)", true, [] { return hooks_probe(2); }},
      {"c. TOOLS_RUNTIME_CALLBACK_HOOKS slot 6 (internal enable buffer)", true, [] { return hooks_probe(6); }},
      {"c. INTEGRITY_CHECK slot 1, version 13000 (scheme 0)", true, [] { return integrity_probe(13000, 1700000000); }},
      {"c. INTEGRITY_CHECK slot 1, version 13001 (scheme 1)", true, [] { return integrity_probe(13001, 1700000000); }},
      {"c. INTEGRITY_CHECK slot 1, version 13002 (hashed)", true, [] { return integrity_probe(13002, 1700000000); }},
      {"c. INTEGRITY_CHECK slot 1, version 12082 (hashed, 12.8 runtime)", true,
       [] { return integrity_probe(12082, 1700000000); }},
  };
  std::printf("\n== c./d. probes in child processes\n");
  const auto probe_results = run_probes(probes);
  for (const auto& [name, r] : probe_results) std::printf("  %s: %s\n", name.c_str(), r.c_str());

  // c. (after cuInit), and the device
  const CUresult irc = init(0);
  std::printf("\n== cuInit(0): %s\n", rc_name(irc).c_str());
  int count = 0;
  char gpu[256] = {};
  if (irc == CUDA_SUCCESS) {
    auto cnt = reinterpret_cast<DeviceGetCount>(dlsym(g_lib, "cuDeviceGetCount"));
    auto name = reinterpret_cast<DeviceGetName>(dlsym(g_lib, "cuDeviceGetName"));
    cnt(&count);
    if (count > 0) name(gpu, sizeof gpu, 0);
    std::printf("devices %d, device 0: %s\n", count, gpu);
  }
  std::printf("\n== c. cuGetExportTable after cuInit\n");
  std::vector<TableFacts> after;
  for (const TableId& t : kTables) {
    after.push_back(export_table(t));
    std::printf("  %s\n", table_line(after.back()).c_str());
  }

  if (json_path != nullptr) {
    std::string j = "{\n  \"library\": " + json_str(lib_path) + ",\n  \"nvidia\": " + json_str(nv_version) +
                    ",\n  \"driver_version\": " + std::to_string(g_driver_version) + ",\n  \"gpu\": " +
                    json_str(gpu) + ",\n  \"cuInit\": " + json_str(rc_name(irc)) + ",\n  \"versions\": [";
    for (size_t i = 0; i < g_versions.size(); ++i) j += (i ? "," : "") + std::to_string(g_versions[i]);
    j += "],\n  \"proc_address\": {";
    bool first = true;
    for (const auto& [b, f] : facts) {
      j += std::string(first ? "" : ",") + "\n    " + json_str(b) + ": {\"default\": [";
      first = false;
      const auto ch = BaseFacts::changes(f.legacy);
      for (size_t i = 0; i < ch.size(); ++i)
        j += std::string(i ? ", " : "") + "[" + std::to_string(ch[i].first) + ", " + json_str(describe(ch[i].second)) + "]";
      j += "], \"ptds\": [";
      const auto cp = BaseFacts::changes(f.ptds);
      for (size_t i = 0; i < cp.size(); ++i)
        j += std::string(i ? ", " : "") + "[" + std::to_string(cp[i].first) + ", " + json_str(describe(cp[i].second)) + "]";
      j += "]}";
    }
    j += "\n  },\n  \"exported_never_returned\": {";
    first = true;
    for (const auto& [b, syms] : never_returned) {
      j += std::string(first ? "" : ",") + "\n    " + json_str(b) + ": [";
      first = false;
      for (size_t i = 0; i < syms.size(); ++i) j += (i ? ", " : "") + json_str(syms[i]);
      j += "]";
    }
    auto list = [&](const char* key, const std::vector<std::string>& v) {
      j += "\n  },\n  \"" + std::string(key) + "\": [";
      for (size_t i = 0; i < v.size(); ++i) j += std::string(i ? "," : "") + "\n    " + json_str(v[i]);
      j += "\n  ]";
    };
    list("table_mismatches", mismatches);
    j += ",\n  \"table_ptds_notes\": [";
    for (size_t i = 0; i < notes.size(); ++i) j += std::string(i ? "," : "") + "\n    " + json_str(notes[i]);
    j += "\n  ],\n  \"table_newer_variants\": [";
    for (size_t i = 0; i < newer.size(); ++i) j += std::string(i ? "," : "") + "\n    " + json_str(newer[i]);
    j += "\n  ],\n  \"export_tables\": [";
    for (size_t i = 0; i < after.size(); ++i)
      j += std::string(i ? "," : "") + "\n    {\"name\": " + json_str(after[i].name) + ", \"before_init\": " +
           json_str(table_line(before[i])) + ", \"after_init\": " + json_str(table_line(after[i])) + "}";
    j += "\n  ],\n  \"probes\": [";
    for (size_t i = 0; i < probe_results.size(); ++i)
      j += std::string(i ? "," : "") + "\n    [" + json_str(probe_results[i].first) + ", " +
           json_str(probe_results[i].second) + "]";
    j += "\n  ]\n}\n";
    if (FILE* f = std::fopen(json_path, "w")) {
      std::fputs(j.c_str(), f);
      std::fclose(f);
      std::printf("\nwrote %s\n", json_path);
    } else {
      std::printf("\ncannot write %s\n", json_path);
    }
  }
  if (irc != CUDA_SUCCESS || count == 0) {
    std::printf("SKIP: cuInit failed or no device (the facts above were still recorded)\n");
    return 77;
  }
  std::printf("%s\n", mismatches.empty() ? "PASS: our entry-point table agrees with the driver"
                                         : "FAIL: our entry-point table contradicts the driver (MISMATCH lines)");
  return mismatches.empty() ? 0 : 1;
}
