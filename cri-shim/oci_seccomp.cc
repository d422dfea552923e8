#include "cri-shim/oci_seccomp.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

#include "idm/unique_fd.h"

namespace xg::shim {
namespace {

using Json = nlohmann::json;
using Error = std::string;

struct CtxDeleter {
  void operator()(void* ctx) const noexcept { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

uint32_t errno_ret(const Json& obj, const char* key) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_number_unsigned() ? it->get<uint32_t>() : uint32_t{EPERM};
}

// An OCI action name to libseccomp's action value; nullopt if a zone cannot have it.
std::optional<uint32_t> action(std::string_view name, uint32_t errno_value) {
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_value);
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_value);
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  return std::nullopt;  // SCMP_ACT_NOTIFY needs an agent listening on the filter's fd: none in a zone
}

// OCI's "SCMP_ARCH_X86_64" is libseccomp's "x86_64" (every OCI architecture name is libseccomp's, upper-cased,
// behind the prefix); 0 if libseccomp does not know it.
uint32_t arch_token(const Json& name) {
  if (!name.is_string()) return 0;
  std::string n = name.get<std::string>();
  constexpr std::string_view kPrefix = "SCMP_ARCH_";
  if (n.compare(0, kPrefix.size(), kPrefix) != 0) return 0;
  n.erase(0, kPrefix.size());
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return seccomp_arch_resolve_name(n.c_str());
}

std::optional<scmp_compare> compare_op(std::string_view name) {
  if (name == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (name == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (name == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (name == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (name == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (name == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (name == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;  // value: the mask, valueTwo: what must remain
  return std::nullopt;
}

std::variant<std::vector<scmp_arg_cmp>, Error> conditions(const Json& rule) {
  std::vector<scmp_arg_cmp> out;
  const auto args = rule.find("args");
  if (args == rule.end() || args->is_null()) return out;
  if (!args->is_array()) return Error("linux.seccomp: a rule's args is not a list");
  if (args->size() > 6) return Error("linux.seccomp: a rule compares more than 6 arguments");
  for (const Json& a : *args) {
    if (!a.is_object()) return Error("linux.seccomp: an arg is not an object");
    const auto index = a.find("index");
    if (index == a.end() || !index->is_number_unsigned() || index->get<uint64_t>() > 5)
      return Error("linux.seccomp: an arg's index is not 0..5");
    const auto op = compare_op(a.value("op", std::string{}));
    if (!op) return Error("linux.seccomp: unknown arg op '" + a.value("op", std::string{}) + "'");
    auto datum = [&a](const char* key) -> std::optional<uint64_t> {
      const auto it = a.find(key);
      if (it == a.end() || it->is_null()) return uint64_t{0};
      if (!it->is_number_unsigned()) return std::nullopt;
      return it->get<uint64_t>();
    };
    const auto value = datum("value"), value_two = datum("valueTwo");
    if (!value || !value_two) return Error("linux.seccomp: an arg's value is not an unsigned number");
    out.push_back(scmp_arg_cmp{static_cast<unsigned>(index->get<uint64_t>()), *op, *value, *value_two});
  }
  return out;
}

// One OCI rule (names x conditions) into ctx. Unknown names are counted and skipped.
std::optional<Error> add_rule(void* ctx, const Json& rule, uint32_t default_action, uint32_t& unknown) {
  if (!rule.is_object()) return Error("linux.seccomp: a syscalls entry is not an object");
  const auto act = action(rule.value("action", std::string{}), errno_ret(rule, "errnoRet"));
  if (!act) return Error("linux.seccomp: action '" + rule.value("action", std::string{}) + "' is not available in a zone");
  auto cmps = conditions(rule);
  if (auto* e = std::get_if<Error>(&cmps)) return *e;
  const auto& args = std::get<std::vector<scmp_arg_cmp>>(cmps);
  if (*act == default_action) return std::nullopt;  // libseccomp refuses such a rule; it would change nothing
  const auto names = rule.find("names");
  if (names == rule.end() || !names->is_array()) return Error("linux.seccomp: a rule without names");
  // runc's rule: args that all name one argument are alternatives (a rule each); mixed indexes all must hold.
  bool same_index = args.size() > 1;
  for (const auto& c : args) same_index = same_index && c.arg == args.front().arg;
  for (const Json& n : *names) {
    if (!n.is_string()) return Error("linux.seccomp: a syscall name is not a string");
    const int nr = seccomp_syscall_resolve_name(n.get_ref<const std::string&>().c_str());
    if (nr == __NR_SCMP_ERROR) {
      ++unknown;
      continue;
    }
    int rc = 0;
    if (same_index) {
      for (const auto& c : args)
        if ((rc = seccomp_rule_add_array(ctx, *act, nr, 1, &c)) != 0) break;
    } else {
      rc = seccomp_rule_add_array(ctx, *act, nr, static_cast<unsigned>(args.size()), args.data());
    }
    if (rc != 0)
      return Error("linux.seccomp: rule for " + n.get<std::string>() + " refused by libseccomp: " + std::strerror(-rc));
  }
  return std::nullopt;
}

std::variant<std::vector<idm::CtlFilterInsn>, Error> export_program(void* ctx) {
  idm::UniqueFd fd(::memfd_create("xg-seccomp", MFD_CLOEXEC));
  if (!fd.valid()) return Error(std::string("linux.seccomp: memfd_create: ") + std::strerror(errno));
  if (int rc = seccomp_export_bpf(ctx, fd.get()); rc != 0)
    return Error(std::string("linux.seccomp: libseccomp could not build the program: ") + std::strerror(-rc));
  const off_t bytes = ::lseek(fd.get(), 0, SEEK_END);
  if (bytes <= 0 || bytes % sizeof(idm::CtlFilterInsn) != 0)
    return Error("linux.seccomp: libseccomp's program has an odd size");
  const auto n = static_cast<size_t>(bytes) / sizeof(idm::CtlFilterInsn);
  if (n > idm::kMaxCtlFilterInsns)
    return Error("linux.seccomp: the program has " + std::to_string(n) + " instructions, over the kernel's " +
                 std::to_string(idm::kMaxCtlFilterInsns));
  std::vector<idm::CtlFilterInsn> insns(n);
  if (::pread(fd.get(), insns.data(), static_cast<size_t>(bytes), 0) != bytes)
    return Error(std::string("linux.seccomp: reading the program back: ") + std::strerror(errno));
  return insns;
}

}  // namespace

std::variant<std::optional<SeccompProgram>, std::string> compile_oci_seccomp(const Json& spec) {
  if (!spec.is_object()) return std::optional<SeccompProgram>{};
  const auto linux_it = spec.find("linux");
  if (linux_it == spec.end() || !linux_it->is_object()) return std::optional<SeccompProgram>{};
  const auto it = linux_it->find("seccomp");
  if (it == linux_it->end() || it->is_null()) return std::optional<SeccompProgram>{};
  const Json& s = *it;
  if (!s.is_object()) return Error("linux.seccomp is not an object");
  if (s.contains("listenerPath") && !s["listenerPath"].is_null() && s["listenerPath"] != "")
    return Error("linux.seccomp.listenerPath: no seccomp agent can listen in a zone");

  const auto def = action(s.value("defaultAction", std::string{}), errno_ret(s, "defaultErrnoRet"));
  if (!def) return Error("linux.seccomp.defaultAction '" + s.value("defaultAction", std::string{}) + "' is not available in a zone");
  Ctx ctx(seccomp_init(*def));
  if (!ctx) return Error("linux.seccomp: libseccomp could not start a filter");

  if (const auto archs = s.find("architectures"); archs != s.end() && !archs->is_null()) {
    if (!archs->is_array()) return Error("linux.seccomp.architectures is not a list");
    for (const Json& a : *archs) {
      const uint32_t token = arch_token(a);
      if (token == 0) return Error("linux.seccomp: unknown architecture " + a.dump());
      if (int rc = seccomp_arch_add(ctx.get(), token); rc != 0 && rc != -EEXIST)
        return Error("linux.seccomp: architecture " + a.get<std::string>() + ": " + std::strerror(-rc));
    }
  }

  SeccompProgram prog;
  if (const auto flags = s.find("flags"); flags != s.end() && !flags->is_null()) {
    if (!flags->is_array()) return Error("linux.seccomp.flags is not a list");
    for (const Json& f : *flags) {
      const std::string name = f.is_string() ? f.get<std::string>() : f.dump();
      if (name == "SECCOMP_FILTER_FLAG_TSYNC") continue;  // no threads yet when the zone init installs it
      if (name == "SECCOMP_FILTER_FLAG_LOG") prog.flags |= idm::kCtlFilterLog;
      else if (name == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") prog.flags |= idm::kCtlFilterSpecAllow;
      else return Error("linux.seccomp: flag " + name + " is not available in a zone");
    }
  }

  if (const auto rules = s.find("syscalls"); rules != s.end() && !rules->is_null()) {
    if (!rules->is_array()) return Error("linux.seccomp.syscalls is not a list");
    for (const Json& r : *rules)
      if (auto e = add_rule(ctx.get(), r, *def, prog.unknown_syscalls)) return *e;
  }
  auto insns = export_program(ctx.get());
  if (auto* e = std::get_if<Error>(&insns)) return *e;
  prog.insns = std::move(std::get<std::vector<idm::CtlFilterInsn>>(insns));
  return std::optional<SeccompProgram>{std::move(prog)};
}

}  // namespace xg::shim
