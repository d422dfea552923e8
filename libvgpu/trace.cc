#include "libvgpu/trace.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "cuda/errors.h"

namespace xg::vgpu::trace {

bool g_on = false;

namespace {

int g_fd = -1;
uint64_t g_start_us = 0;

uint64_t monotonic_us() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

// Opened before main(): the program's own start-up calls (cudart's static constructors) are traced too.
__attribute__((constructor)) void open_trace() {
  const char* path = std::getenv("XEN_GPU_TRACE");
  if (path == nullptr || *path == '\0') return;
  g_fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (g_fd < 0) {
    std::fprintf(stderr, "libvgpu: XEN_GPU_TRACE=%s: cannot open (%s); not tracing\n", path, std::strerror(errno));
    return;
  }
  g_start_us = monotonic_us();
  g_on = true;
}

// Appends one line: "<us> <tid> " + body + "\n", truncated to the buffer.
void emit(const char* body, size_t n) noexcept {
  char line[512];
  int head = std::snprintf(line, sizeof line, "%llu %ld ", static_cast<unsigned long long>(now_us()),
                           static_cast<long>(::syscall(SYS_gettid)));
  if (head < 0) return;
  size_t len = static_cast<size_t>(head);
  n = std::min(n, sizeof line - 1 - len);
  std::memcpy(line + len, body, n);
  len += n;
  line[len++] = '\n';
  [[maybe_unused]] ssize_t w = ::write(g_fd, line, len);
}

}  // namespace

uint64_t now_us() noexcept { return monotonic_us() - g_start_us; }

std::string_view entry_name(std::string_view sig) noexcept {
  const size_t paren = sig.find('(');
  if (paren != std::string_view::npos) sig = sig.substr(0, paren);
  const size_t space = sig.find_last_of(" *&:");  // the return type, or a namespace qualifier
  return space == std::string_view::npos ? sig : sig.substr(space + 1);
}

void call(std::string_view signature, int result, uint64_t start_us) noexcept {
  const std::string_view name = entry_name(signature);
  char body[256];
  const int n = std::snprintf(body, sizeof body, "call %.*s -> %s %llu", static_cast<int>(name.size()), name.data(),
                              cuda::error_name(result), static_cast<unsigned long long>(now_us() - start_us));
  if (n > 0) emit(body, static_cast<size_t>(n));
}

void message(std::string_view op, uint32_t seq, const void* req, size_t req_bytes, size_t tail_bytes) noexcept {
  char body[384];
  int n = std::snprintf(body, sizeof body, "msg %.*s seq=%u tail=%zu", static_cast<int>(op.size()), op.data(), seq,
                        tail_bytes);
  // The request's fixed part as 64-bit words: handles, sizes and flags, enough to diff two runs.
  for (size_t off = 0; n > 0 && off + 8 <= req_bytes && off < 8 * 8; off += 8) {
    uint64_t w;
    std::memcpy(&w, static_cast<const char*>(req) + off, sizeof w);
    n += std::snprintf(body + n, sizeof body - static_cast<size_t>(n), " %llx", static_cast<unsigned long long>(w));
  }
  if (n > 0) emit(body, std::min(static_cast<size_t>(n), sizeof body - 1));
}

void note(const char* fmt, ...) noexcept {
  char body[384] = "note ";
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(body + 5, sizeof body - 5, fmt, ap);
  va_end(ap);
  if (n >= 0) emit(body, std::min(static_cast<size_t>(n) + 5, sizeof body - 1));
}

}  // namespace xg::vgpu::trace
