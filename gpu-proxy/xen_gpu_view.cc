#include "gpu-proxy/xen_gpu_view.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

#include "gpu-proxy/admin_client.h"
#include "gpu-proxy/units.h"
#include "gpu-proxy/zone_snapshot.h"
#include "gpu-proxy/zone_view.h"

namespace xg::proxy {
namespace {

// The daemon's answer to `verb` without its "ok\n", or nullopt after saying on stderr why there is none.
std::optional<std::string> ask(AdminClient& admin, AdminVerb verb, const std::string& name = "") {
  auto reply = admin.request(AdminRequest{verb, name, 0, 0, 0});
  if (!reply || reply->rfind("ok\n", 0) != 0) {
    std::fprintf(stderr, "xen-gpu: %s\n", reply ? reply->c_str() : "no answer from the proxy");
    return std::nullopt;
  }
  return reply->substr(3);
}

std::optional<AdminClient> connect(const std::string& path) {
  std::string error;
  auto admin = AdminClient::connect(path, error);
  if (!admin) std::fprintf(stderr, "xen-gpu: %s\n", error.c_str());
  return admin;
}

std::optional<ProxySnapshot> fetch_snapshot(AdminClient& admin) {
  auto json = ask(admin, AdminVerb::kZonesJson);
  if (!json) return std::nullopt;
  std::string error;
  auto s = snapshot_from_json(*json, error);
  if (!s) std::fprintf(stderr, "xen-gpu: the proxy's zones-json answer does not parse: %s\n", error.c_str());
  return s;
}

// --- top: the terminal --------------------------------------------------------------------------------------

// Set by SIGINT/SIGTERM; the handler also puts the terminal back itself (tcsetattr is async-signal-safe), so a
// second signal or a kill that follows cannot leave the operator's shell without echo.
volatile sig_atomic_t g_stop_signal = 0;
volatile sig_atomic_t g_keys_raw = 0;
termios g_saved_termios{};

void on_stop_signal(int sig) {
  if (g_keys_raw) ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
  g_stop_signal = sig;
}

// While `top` runs: stdin (only when it is a terminal) unbuffered and without echo, so `q` arrives alone and at
// once. ISIG stays on: Ctrl-C is still SIGINT, which ends top like `q` (after the terminal is restored).
class KeyReader {
 public:
  KeyReader() {
    if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) return;
    termios t = g_saved_termios;
    t.c_lflag &= ~tcflag_t(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (::tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) g_keys_raw = 1;
  }
  ~KeyReader() {
    if (g_keys_raw) ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
    g_keys_raw = 0;
  }
  KeyReader(const KeyReader&) = delete;
  KeyReader& operator=(const KeyReader&) = delete;

  // Waits up to `timeout` for `q`; true if it came. Returns early (false) on a signal.
  bool wait_for_quit(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!g_stop_signal) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      // Not a terminal: stdin is not watched at all (a pipe or /dev/null would read as endless input or EOF).
      pollfd pfd{STDIN_FILENO, POLLIN, 0};
      const int n = ::poll(g_keys_raw ? &pfd : nullptr, g_keys_raw ? 1 : 0, static_cast<int>(left.count()));
      if (n <= 0) continue;  // timeout (the loop ends) or EINTR (the signal flag is checked)
      char keys[32];
      const ssize_t got = ::read(STDIN_FILENO, keys, sizeof keys);
      if (got <= 0) continue;
      if (std::find_if(keys, keys + got, [](char c) { return c == 'q' || c == 'Q'; }) != keys + got) return true;
    }
    return false;
  }
};

// Installs `handler` for SIGINT/SIGTERM (no SA_RESTART: the wait returns at once) and SIG_IGN for SIGPIPE (a
// closed pipe ends top through a failed write, with the terminal restored); the old dispositions come back after.
class SignalScope {
 public:
  SignalScope() {
    struct sigaction sa{};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
    struct sigaction ign{};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, &old_pipe_);
  }
  ~SignalScope() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGPIPE, &old_pipe_, nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  struct sigaction old_int_{}, old_term_{}, old_pipe_{};
};

size_t terminal_width() {
  winsize ws{};
  return ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

}  // namespace

int zones_command(const std::string& admin_socket, ZonesFormat format) {
  auto admin = connect(admin_socket);
  if (!admin) return 3;
  if (format == ZonesFormat::kTable) {
    // The daemon's own table, byte for byte: scripts read its columns.
    auto table = ask(*admin, AdminVerb::kZones);
    if (!table) return 3;
    std::fputs(table->c_str(), stdout);
    return 0;
  }
  if (format == ZonesFormat::kJson) {
    auto json = ask(*admin, AdminVerb::kZonesJson);
    if (!json) return 3;
    std::printf("%s\n", json->c_str());
    return 0;
  }
  auto s = fetch_snapshot(*admin);
  if (!s) return 3;
  std::fputs(render_zones(*s).c_str(), stdout);
  return 0;
}

int profile_command(const std::string& admin_socket, const std::string& zone, bool json) {
  auto admin = connect(admin_socket);
  if (!admin) return 3;
  auto table = ask(*admin, AdminVerb::kProfile, zone);
  if (!table) return 3;
  if (!json) {
    std::fputs(table->c_str(), stdout);
    return 0;
  }
  auto out = profile_table_to_json(*table);
  if (!out) {
    std::fprintf(stderr, "xen-gpu: the proxy's profile table has an unexpected shape\n");
    return 3;
  }
  std::printf("%s\n", out->c_str());
  return 0;
}

int top_command(const std::string& admin_socket, const TopOptions& o) {
  auto admin = connect(admin_socket);
  if (!admin) return 3;
  // Escape codes only for a terminal: over a pipe each frame is plain text, frames separated by a blank line.
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  g_stop_signal = 0;
  SignalScope signals;
  KeyReader keys;
  const auto interval = std::chrono::milliseconds(static_cast<int64_t>(o.interval_s * 1000));
  int status = 0;
  for (uint64_t frame = 0; o.iterations == 0 || frame < o.iterations; ++frame) {
    if (g_stop_signal) break;
    auto s = fetch_snapshot(*admin);
    if (!s) {
      status = 3;
      break;
    }
    std::string text;
    if (tty) {
      text = "\x1b[H\x1b[2J";  // home, clear: the frame replaces the last
      text += render_top(*s, terminal_width());
      text += "\nq quits; every " + format_duration(o.interval_s) + "\n";
    } else {
      if (frame) text = "\n";  // one blank line between frames
      text += render_top(*s);
    }
    if (std::fputs(text.c_str(), stdout) < 0 || std::fflush(stdout) != 0) break;  // the reader went away
    if (o.iterations != 0 && frame + 1 == o.iterations) break;
    if (keys.wait_for_quit(interval)) break;
  }
  if (g_stop_signal && status == 0) status = 128 + g_stop_signal;
  return status;
}

}  // namespace xg::proxy
