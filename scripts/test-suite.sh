#!/bin/bash
# test-suite.sh BUILD JOBS: the test half of `make test`, once the ASan tree is built. Runs every CTest test of the
# ASan+UBSan tree (the real-Xen VM job first: it is the longest, and the rest runs beside it), and meanwhile
# builds the TSan tree at the lowest CPU priority, so that it takes only the time the VM job and the other tests
# leave idle on the machine instead of adding its build to the suite's length; then runs the TSan tests.
# Exit status: non-zero when any test or the TSan build failed.
set -uo pipefail
B=${1:?usage: test-suite.sh BUILD JOBS}
JOBS=${2:-2}

( nice -n 19 cmake --build "$B/tsan" -j "$JOBS" > "$B/tsan-build.log" 2>&1; echo $? > "$B/tsan-build.rc" ) &
TSAN_BUILD=$!

( cd "$B/asan" && ctest --output-on-failure -j "$JOBS" --timeout 900 ); ASAN_RC=$?

echo "== waiting for the TSan build (started beside the ASan tests, at nice 19; log: $B/tsan-build.log)"
wait $TSAN_BUILD
TSAN_BUILD_RC=$(cat "$B/tsan-build.rc" 2>/dev/null || echo 1)
TSAN_RC=1
if [ "$TSAN_BUILD_RC" = 0 ]; then
  ( cd "$B/tsan" && ctest --output-on-failure --timeout 600 ); TSAN_RC=$?
else
  tail -n 40 "$B/tsan-build.log"
  echo "FAILED: the TSan build (exit $TSAN_BUILD_RC)"
fi
[ "$ASAN_RC" = 0 ] || echo "FAILED: ASan+UBSan tests (ctest exit $ASAN_RC)"
[ "$TSAN_RC" = 0 ] || echo "FAILED: TSan tests"
[ "$ASAN_RC" = 0 ] && [ "$TSAN_RC" = 0 ]
