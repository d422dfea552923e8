#include "cri-shim/xen_mounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "idm/unique_fd.h"
#include "cri-shim/xen_spec.h"
#include "idm/messages_zonectl.h"

namespace xg::shim {
namespace {

static_assert(kMaxMounts == idm::kMaxCtlMounts);

bool has_option(const nlohmann::json& options, std::string_view name) {
  if (!options.is_array()) return false;
  for (const auto& o : options)
    if (o.is_string() && o.get<std::string>() == name) return true;
  return false;
}

std::string describe(size_t i, const std::string& destination) {
  return "mount " + std::to_string(i) + " (" + destination.substr(0, 256) + ")";
}

// Options a bind mount may carry that mean nothing for a copy, or that the zone applies anyway (nosuid, nodev).
bool bind_option_ok(std::string_view o) {
  for (std::string_view ok : {"bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "suid", "dev", "exec",
                              "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable",
                              "runbindable", "relatime", "norelatime", "strictatime", "nostrictatime", "noatime",
                              "atime", "nodiratime", "diratime"})
    if (o == ok) return true;
  return false;
}

struct CopyState {
  uint64_t bytes = 0, entries = 0;
  std::string error;
  bool fail(std::string why) {
    if (error.empty()) error = std::move(why);
    return false;
  }
};

bool count_entry(CopyState& st, const std::string& where) {
  if (++st.entries > kMaxCopyEntries)
    return st.fail("more than " + std::to_string(kMaxCopyEntries) + " entries in the bind sources (at " + where + ")");
  return true;
}

// Copies the regular file open as `src` into a new file `name` under directory fd `dst_dir`.
bool copy_file(int src, const struct stat& sst, int dst_dir, const char* name, const std::string& where,
               CopyState& st) {
  if (static_cast<uint64_t>(sst.st_size) > kMaxCopyBytes - st.bytes)
    return st.fail("the bind sources pass " + std::to_string(kMaxCopyBytes >> 20) + " MiB (at " + where + ")");
  idm::UniqueFd out(::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return st.fail("creating the copy of " + where + ": " + std::strerror(errno));
  char buf[64 * 1024];
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(src, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return st.fail("reading " + where + ": " + std::strerror(errno));
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    // The file may grow while we read it: the bound holds for what we copy, not what stat said.
    if (total > kMaxCopyBytes - st.bytes)
      return st.fail("the bind sources pass " + std::to_string(kMaxCopyBytes >> 20) + " MiB (at " + where + ")");
    for (ssize_t off = 0; off < n;) {
      const ssize_t w = ::write(out.get(), buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return st.fail("writing the copy of " + where + ": " + std::strerror(errno));
      off += w;
    }
  }
  st.bytes += total;
  // Owner first (chown clears set-id bits), then the mode; set-id bits are not carried into a zone.
  (void)::fchown(out.get(), sst.st_uid, sst.st_gid);
  (void)::fchmod(out.get(), sst.st_mode & 01777);
  return true;
}

bool copy_tree(int src_dir, int dst_dir, const std::string& where, CopyState& st, int depth);

// Copies entry `name` of `src_dir` (not followed if a symlink) into `dst_dir`.
bool copy_entry(int src_dir, const char* name, int dst_dir, const std::string& where, CopyState& st, int depth) {
  struct stat sst {};
  if (::fstatat(src_dir, name, &sst, AT_SYMLINK_NOFOLLOW) != 0)
    return st.fail("stat " + where + ": " + std::strerror(errno));
  if (!count_entry(st, where)) return false;
  if (S_ISLNK(sst.st_mode)) {
    // Copied as a symlink: its target is text, resolved (if ever) inside the container, never here.
    char target[4096];
    const ssize_t n = ::readlinkat(src_dir, name, target, sizeof target - 1);
    if (n < 0) return st.fail("readlink " + where + ": " + std::strerror(errno));
    target[n] = '\0';
    if (::symlinkat(target, dst_dir, name) != 0) return st.fail("copying the symlink " + where + ": " + std::strerror(errno));
    (void)::fchownat(dst_dir, name, sst.st_uid, sst.st_gid, AT_SYMLINK_NOFOLLOW);
    return true;
  }
  if (S_ISREG(sst.st_mode)) {
    idm::UniqueFd f(::openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!f.valid()) return st.fail("opening " + where + ": " + std::strerror(errno));
    return copy_file(f.get(), sst, dst_dir, name, where, st);
  }
  if (S_ISDIR(sst.st_mode)) {
    if (depth >= 64) return st.fail("the bind source is deeper than 64 directories (at " + where + ")");
    idm::UniqueFd d(::openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d.valid()) return st.fail("opening " + where + ": " + std::strerror(errno));
    if (::mkdirat(dst_dir, name, 0700) != 0) return st.fail("creating the copy of " + where + ": " + std::strerror(errno));
    idm::UniqueFd out(::openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!out.valid()) return st.fail("opening the copy of " + where + ": " + std::strerror(errno));
    if (!copy_tree(d.get(), out.get(), where, st, depth + 1)) return false;
    (void)::fchown(out.get(), sst.st_uid, sst.st_gid);
    (void)::fchmod(out.get(), sst.st_mode & 01777);
    return true;
  }
  // A device, socket or FIFO inside a tree: nothing a copy can carry (and a device node from the host is never
  // something a zone should get). Skipped, said.
  std::fprintf(stderr, "xen-gpu shim: %s is a device, socket or FIFO: not copied into the zone\n", where.c_str());
  return true;
}

bool copy_tree(int src_dir, int dst_dir, const std::string& where, CopyState& st, int depth) {
  const int dup = ::fcntl(src_dir, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return st.fail("reading " + where + ": " + std::strerror(errno));
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dup), &::closedir);
  if (!dir) {
    ::close(dup);
    return st.fail("reading " + where + ": " + std::strerror(errno));
  }
  while (dirent* e = ::readdir(dir.get())) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    if (!copy_entry(src_dir, e->d_name, dst_dir, where + "/" + e->d_name, st, depth)) return false;
  }
  return true;
}

bool empty_dir(const std::string& path) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), &::closedir);
  if (!dir) return false;
  while (dirent* e = ::readdir(dir.get()))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) return false;
  return true;
}

}  // namespace

std::optional<std::string> normal_destination(std::string_view d) {
  if (d.empty() || d.front() != '/') return std::nullopt;
  std::string out;
  size_t pos = 0;
  while (pos < d.size()) {
    size_t next = d.find('/', pos);
    if (next == std::string_view::npos) next = d.size();
    const auto part = d.substr(pos, next - pos);
    pos = next + 1;
    if (part.empty()) continue;
    if (part == "." || part == "..") return std::nullopt;
    out += '/';
    out += part;
  }
  if (out.empty() || !idm::valid_ctl_mount_path(out, true)) return std::nullopt;
  return out;
}

std::optional<uint64_t> tmpfs_size(std::string_view v) {
  if (v.empty() || v.size() > 20) return std::nullopt;
  uint64_t mult = 1;
  switch (v.back()) {
    case 'k': case 'K': mult = 1ull << 10; v.remove_suffix(1); break;
    case 'm': case 'M': mult = 1ull << 20; v.remove_suffix(1); break;
    case 'g': case 'G': mult = 1ull << 30; v.remove_suffix(1); break;
    default: break;
  }
  if (v.empty()) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;  // a percentage of the zone's memory too: not carried
    if (n > kMaxTmpfsBytes) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > kMaxTmpfsBytes / mult) return std::nullopt;
  return n * mult;
}

std::string volume_name(std::string_view source) {
  uint64_t h = 14695981039346656037ull;
  for (char c : source) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  char buf[20];
  std::snprintf(buf, sizeof buf, "v%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::variant<SpecMounts, std::string> xen_mounts_for(const nlohmann::json& spec) {
  SpecMounts out;
  const auto it = spec.is_object() ? spec.find("mounts") : spec.end();
  if (!spec.is_object() || it == spec.end() || it->is_null()) return out;
  if (!it->is_array()) return std::string("the spec's mounts are not a list");
  if (it->size() > 4 * kMaxMounts) return "the spec has " + std::to_string(it->size()) + " mounts (at most " + std::to_string(kMaxMounts) + " besides the standard ones)";
  size_t i = 0;
  for (const auto& m : *it) {
    const size_t index = i++;
    if (!m.is_object()) return "mount " + std::to_string(index) + " is not an object";
    const std::string dst_raw = json_string(m, "destination");
    const std::string type = json_string(m, "type");
    const std::string source = json_string(m, "source");
    const nlohmann::json options = m.contains("options") ? m["options"] : nlohmann::json();
    if (!options.is_null() && !options.is_array()) return describe(index, dst_raw) + ": options are not a list";
    if (options.is_array())
      for (const auto& o : options)
        if (!o.is_string()) return describe(index, dst_raw) + ": options are not all strings";
    const auto dst = normal_destination(dst_raw);
    if (!dst) return describe(index, dst_raw) + ": the destination must be absolute, not /, without . or ..";
    const bool bind = type == "bind" || has_option(options, "bind") || has_option(options, "rbind");
    const bool ro = has_option(options, "ro");
    if (!bind) {
      bool standard = false;
      for (const auto& s : kStandardMounts)
        if (*dst == s.destination && type == s.type) standard = true;
      if (standard) {
        out.skipped.push_back(*dst + " (" + type + ")");
        continue;
      }
      if (type != "tmpfs")
        return describe(index, *dst) + ": type \"" + type.substr(0, 32) + "\" is not supported in Xen mode (only bind and tmpfs mounts)";
      ZoneMount z;
      z.m.kind = static_cast<uint32_t>(idm::CtlMountKind::kTmpfs);
      z.m.flags = idm::kCtlMountDir | (ro ? uint32_t{idm::kCtlMountRo} : 0u);
      z.destination = *dst;
      if (options.is_array())
        for (const auto& o : options) {
          const std::string s = o.get<std::string>();
          if (s.rfind("size=", 0) == 0) {
            const auto n = tmpfs_size(std::string_view(s).substr(5));
            if (!n) return describe(index, *dst) + ": tmpfs size \"" + s.substr(5, 32) + "\" is not understood (bytes, or k/m/g; at most 1 TiB)";
            z.m.size = *n;
          } else if (s.rfind("mode=", 0) == 0) {
            const std::string v = s.substr(5);
            if (v.empty() || v.size() > 5 || v.find_first_not_of("01234567") != std::string::npos)
              return describe(index, *dst) + ": tmpfs mode \"" + v.substr(0, 32) + "\" is not octal";
            z.m.mode = static_cast<uint32_t>(std::stoul(v, nullptr, 8));
            if (z.m.mode > 07777) return describe(index, *dst) + ": tmpfs mode past 07777";
          } else if (!bind_option_ok(s)) {
            return describe(index, *dst) + ": tmpfs option \"" + s.substr(0, 32) + "\" is not supported in Xen mode";
          }
        }
      out.mounts.push_back(std::move(z));
      continue;
    }
    if (options.is_array())
      for (const auto& o : options)
        if (!bind_option_ok(o.get<std::string>()))
          return describe(index, *dst) + ": bind option \"" + o.get<std::string>().substr(0, 32) + "\" is not supported in Xen mode";
    if (source.empty() || source.front() != '/' || source.size() > 4096)
      return describe(index, *dst) + ": a bind source must be an absolute host path";
    struct stat st {};
    if (::stat(source.c_str(), &st) != 0)
      return describe(index, *dst) + ": the bind source " + source + " cannot be used: " + std::strerror(errno);
    const bool dir = S_ISDIR(st.st_mode);
    if (!dir && !S_ISREG(st.st_mode))
      return describe(index, *dst) + ": the bind source " + source + " is a device, socket or FIFO (Xen mode copies files and directories only)";
    ZoneMount z;
    z.destination = *dst;
    z.m.flags = (dir ? uint32_t{idm::kCtlMountDir} : 0u) | (ro ? uint32_t{idm::kCtlMountRo} : 0u);
    if (dir && !ro && empty_dir(source)) {
      // emptyDir-style: shared in the pod by source path (file comment).
      z.m.kind = static_cast<uint32_t>(idm::CtlMountKind::kVolume);
      z.source = volume_name(source);
    } else {
      z.m.kind = static_cast<uint32_t>(idm::CtlMountKind::kImage);
      z.source = std::to_string(out.copies.size());
      out.copies.push_back({source, z.source, dir});
    }
    out.mounts.push_back(std::move(z));
  }
  if (out.mounts.size() > kMaxMounts)
    return "the spec has " + std::to_string(out.mounts.size()) + " mounts for the zone (at most " + std::to_string(kMaxMounts) + ")";
  for (size_t a = 0; a < out.mounts.size(); ++a)
    for (size_t b = a + 1; b < out.mounts.size(); ++b)
      if (out.mounts[a].destination == out.mounts[b].destination)
        return "two mounts on " + out.mounts[a].destination + " (Xen mode mounts each destination once)";
  return out;
}

std::optional<std::string> stage_mount_copies(const std::vector<MountCopy>& copies, const std::string& stage) {
  if (::mkdir(stage.c_str(), 0755) != 0) return "creating " + stage + ": " + std::strerror(errno);
  idm::UniqueFd out(::open(stage.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!out.valid()) return "opening " + stage + ": " + std::strerror(errno);
  CopyState st;
  for (const auto& c : copies) {
    if (c.name.empty() || c.name.find('/') != std::string::npos || c.name == "." || c.name == "..")
      return "bad copy name " + c.name;
    // The source itself may be reached through symlinks on the host (the kubelet's own paths): open it
    // following them, as runc's bind would; from there on nothing is followed.
    idm::UniqueFd src(::open(c.source.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (c.dir ? O_DIRECTORY : 0)));
    if (!src.valid()) return "opening the bind source " + c.source + ": " + std::strerror(errno);
    struct stat sst {};
    if (::fstat(src.get(), &sst) != 0) return "stat " + c.source + ": " + std::strerror(errno);
    if (!count_entry(st, c.source)) return st.error;
    if (c.dir) {
      if (!S_ISDIR(sst.st_mode)) return "the bind source " + c.source + " is no longer a directory";
      if (::mkdirat(out.get(), c.name.c_str(), 0700) != 0) return "creating " + stage + "/" + c.name + ": " + std::strerror(errno);
      idm::UniqueFd d(::openat(out.get(), c.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!d.valid()) return "opening " + stage + "/" + c.name + ": " + std::strerror(errno);
      if (!copy_tree(src.get(), d.get(), c.source, st, 0)) return st.error;
      (void)::fchown(d.get(), sst.st_uid, sst.st_gid);
      (void)::fchmod(d.get(), sst.st_mode & 01777);
    } else {
      if (!S_ISREG(sst.st_mode)) return "the bind source " + c.source + " is no longer a regular file";
      if (!copy_file(src.get(), sst, out.get(), c.name.c_str(), c.source, st)) return st.error;
    }
  }
  return std::nullopt;
}

}  // namespace xg::shim
