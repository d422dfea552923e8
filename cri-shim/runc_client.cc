#include "cri-shim/runc_client.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cri-shim/reaper.h"

namespace xg::shim {
namespace {

// runc's last error from its JSON log (`--log-format json`): the line of level "error", else the output.
std::string last_error(const std::string& log, const std::string& output) {
  std::ifstream in(log);
  std::string line, msg;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("level", "") == "error") msg = j.value("msg", "");
  }
  if (msg.empty()) msg = output;
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (msg.size() > 2000) msg.resize(2000);  // errors travel back to containerd: keep them bounded
  return msg.empty() ? "runc failed" : msg;
}

}  // namespace

pid_t read_pid_file(const std::string& path) {
  std::ifstream in(path);
  long v = 0;
  if (!(in >> v) || v <= 0 || v > 0x3FFFFFFF) return 0;
  return static_cast<pid_t>(v);
}

RuncResult Runc::run(std::vector<std::string> args, std::optional<SpawnIo> io, const std::string& log) {
  std::vector<std::string> argv = {binary_, "--root", root_};
  if (!log.empty()) {
    ::unlink(log.c_str());
    argv.insert(argv.end(), {"--log", log, "--log-format", "json"});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  RuncResult r;
  if (!io) {
    const RunResult rr = run_captured(argv);
    r.ok = rr.status == 0;
    if (!r.ok) r.error = last_error(log, rr.output);
    return r;
  }
  std::string error;
  auto pid = spawn(argv, *io, error);
  if (!pid) return {false, error};
  const int status = Reaper::instance().wait(*pid);
  r.ok = status == 0;
  if (!r.ok) r.error = last_error(log, "");
  return r;
}

RuncResult Runc::create(const std::string& id, const std::string& bundle, const std::string& pid_file, SpawnIo io,
                        const std::string& console_socket) {
  std::vector<std::string> a = {"create", "--bundle", bundle, "--pid-file", pid_file};
  if (!console_socket.empty()) a.insert(a.end(), {"--console-socket", console_socket});
  a.push_back(id);
  return run(a, io, bundle + "/runc-log.json");
}

RuncResult Runc::start(const std::string& id) { return run({"start", id}, std::nullopt, ""); }

RuncResult Runc::kill(const std::string& id, int signal, bool all) {
  std::vector<std::string> a = {"kill"};
  if (all) a.push_back("--all");
  a.insert(a.end(), {id, std::to_string(signal)});
  return run(a, std::nullopt, "");
}

RuncResult Runc::remove(const std::string& id, bool force) {
  std::vector<std::string> a = {"delete"};
  if (force) a.push_back("--force");
  a.push_back(id);
  return run(a, std::nullopt, "");
}

RuncResult Runc::exec(const std::string& id, const std::string& process_json, const std::string& pid_file,
                      SpawnIo io, const std::string& console_socket) {
  std::vector<std::string> a = {"exec", "--detach", "--process", process_json, "--pid-file", pid_file};
  if (!console_socket.empty()) a.insert(a.end(), {"--console-socket", console_socket});
  a.push_back(id);
  return run(a, io, process_json + ".log");
}

RuncResult Runc::pause(const std::string& id) { return run({"pause", id}, std::nullopt, ""); }
RuncResult Runc::resume(const std::string& id) { return run({"resume", id}, std::nullopt, ""); }

RuncResult Runc::update(const std::string& id, const std::string& resources_json) {
  return run({"update", "--resources", resources_json, id}, std::nullopt, "");
}

std::optional<std::string> Runc::state(const std::string& id) {
  const RunResult r = run_captured({binary_, "--root", root_, "state", id});
  if (r.status != 0) return std::nullopt;
  return r.output;
}

std::optional<std::vector<pid_t>> Runc::pids(const std::string& id) {
  const RunResult r = run_captured({binary_, "--root", root_, "ps", "--format", "json", id});
  if (r.status != 0) return std::nullopt;
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  if (!j.is_array()) return std::nullopt;
  std::vector<pid_t> out;
  for (const auto& p : j)
    if (p.is_number_integer()) out.push_back(p.get<pid_t>());
  return out;
}

}  // namespace xg::shim
