#!/bin/bash
# lsan-dtls-test.sh PROBE LIB: the probe with the project's default ASan options must run its leak check; the
# same probe with the interceptor turned back on shows whether this compiler's runtime still has the bug
# (printed, not judged: a fixed runtime is fine either way).
set -u
export ASAN_OPTIONS=quarantine_size_mb=0:thread_local_quarantine_size_kb=0:detect_leaks=1
"$1" "$2"; rc=$?
[ $rc = 77 ] && { echo "SKIP: the allocator did not place the block (nothing shown)"; exit 77; }
[ $rc = 0 ] || { echo "FAIL: the leak check with the project's defaults ended with $rc"; exit 1; }
ASAN_OPTIONS=$ASAN_OPTIONS:intercept_tls_get_addr=1 "$1" "$2" > /tmp/lsan-dtls.$$ 2>&1; rc2=$?
if grep -q "Tracer caught signal" /tmp/lsan-dtls.$$; then
  echo "with intercept_tls_get_addr=1 this runtime's LeakSanitizer crashes (exit $rc2): $(grep -m1 'Tracer caught' /tmp/lsan-dtls.$$)"
else
  echo "with intercept_tls_get_addr=1 this runtime's leak check also survived (exit $rc2)"
fi
rm -f /tmp/lsan-dtls.$$
echo "PASS: the leak check survived a dynamic TLS block 16 bytes into a page"
