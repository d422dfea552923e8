// main() for every doctest program. `prog --child NAME ARGS...` runs a registered child entry point instead of
// the tests: multi-process tests re-execute themselves (fork+exec, never a bare fork of a threaded process).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstring>

#include "tests/support/child.h"

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "--child") == 0) return xg::test::run_child(argv[2], argc - 3, argv + 3);
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
