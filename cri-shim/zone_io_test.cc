// ZoneIo on real FIFOs, as containerd makes them: output events reach the reader and the exit closes them (EOF);
// the stdin FIFO's bytes reach the sink, then its close once the writer is gone or CloseIO says so.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string>

#include "cri-shim/zone_io.h"
#include "tests/support/bytes.h"

using namespace xg::shim;

namespace {

struct Fifos {
  std::string dir, in, out, err;
  Fifos() {
    char tmpl[] = "/tmp/xg-zone-io-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    dir = tmpl;
    in = dir + "/stdin";
    out = dir + "/stdout";
    err = dir + "/stderr";
    for (const auto* p : {&in, &out, &err}) REQUIRE(::mkfifo(p->c_str(), 0600) == 0);
  }
  ~Fifos() {
    for (const auto* p : {&in, &out, &err}) ::unlink(p->c_str());
    ::rmdir(dir.c_str());
  }
};

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) s.append(buf, static_cast<size_t>(n));
  return s;
}

using xg::test::bytes;

}  // namespace

TEST_CASE("ZoneIo: output events into the FIFOs, EOF once the process has exited") {
  Fifos f;
  std::string error;
  auto io = ZoneIo::open("", f.out, f.err, error);
  REQUIRE(io);
  CHECK(!io->has_stdin());
  const int out = ::open(f.out.c_str(), O_RDONLY | O_CLOEXEC);  // containerd's reader
  const int err = ::open(f.err.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(out >= 0);
  REQUIRE(err >= 0);
  io->write(1, bytes("hello "));
  io->write(1, bytes("world\n"));
  io->write(2, bytes("oops\n"));
  io->close_output();
  io->write(1, bytes("after the exit: dropped\n"));
  CHECK(read_all(out) == "hello world\n");
  CHECK(read_all(err) == "oops\n");
  ::close(out);
  ::close(err);
}

TEST_CASE("ZoneIo: a reader that takes nothing costs a bounded wait, not the zone's other output") {
  Fifos f;
  std::string error;
  auto io = ZoneIo::open("", f.out, "", error);
  REQUIRE(io);
  const std::string big(256 * 1024, 'x');  // more than a pipe holds
  io->write(1, bytes(big), std::chrono::milliseconds(50));  // returns: the rest is dropped (and logged)
  io->write(2, bytes("no stderr FIFO: ignored"));
}

TEST_CASE("ZoneIo: stdin FIFO bytes reach the sink, then the close") {
  Fifos f;
  std::string error;
  auto io = ZoneIo::open(f.in, "", "", error);
  REQUIRE(io);
  REQUIRE(io->has_stdin());
  std::mutex mu;
  std::condition_variable cv;
  std::string got;
  bool closed = false;
  io->start_stdin([&](std::span<const std::byte> b, bool close) {
    std::lock_guard l(mu);
    got.append(reinterpret_cast<const char*>(b.data()), b.size());
    closed = closed || close;
    cv.notify_all();
    return true;
  });
  const int w = ::open(f.in.c_str(), O_WRONLY | O_CLOEXEC);  // containerd's writer
  REQUIRE(w >= 0);
  const std::string input(40'000, 'i');
  REQUIRE(::write(w, input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  ::close(w);  // the writer goes: the input ends
  std::unique_lock l(mu);
  REQUIRE(cv.wait_for(l, std::chrono::seconds(10), [&] { return closed; }));
  CHECK(got == input);
}

TEST_CASE("ZoneIo: CloseIO ends the input while a writer still holds the FIFO") {
  Fifos f;
  std::string error;
  auto io = ZoneIo::open(f.in, "", "", error);
  REQUIRE(io);
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
  io->start_stdin([&](std::span<const std::byte>, bool close) {
    std::lock_guard l(mu);
    closed = closed || close;
    cv.notify_all();
    return true;
  });
  const int w = ::open(f.in.c_str(), O_WRONLY | O_CLOEXEC);
  REQUIRE(w >= 0);
  io->close_stdin();
  {
    std::unique_lock l(mu);
    REQUIRE(cv.wait_for(l, std::chrono::seconds(10), [&] { return closed; }));
  }
  ::close(w);
}
