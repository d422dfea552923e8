"""Shared by the ladder's Python rungs (tests/gpu/ladder/rung_*.py): the output conventions run-ladder.sh reads.

Each rung prints `CHECK <key> <value>` for every figure that must be equal natively and in a zone (numbers within
1e-5 relative, anything else exactly), ends with `PASS <rung>` (exit 0) or `FAIL <rung>: why` (exit 1), and
exits 77 after `SKIP <rung>: why` when its Python module is not importable.
"""
import importlib
import sys
import traceback


def require(rung, *modules):
    """Imports the first importable module of each group (a name or a tuple of alternatives), else SKIP."""
    found = []
    for group in modules:
        names = group if isinstance(group, tuple) else (group,)
        errors = []
        for name in names:
            try:
                found.append(importlib.import_module(name))
                break
            except Exception as e:  # ImportError, or a module that fails while importing
                errors.append(f"{name}: {type(e).__name__}: {e}")
        else:
            print(f"SKIP {rung}: cannot import {' or '.join(names)} ({'; '.join(errors)[:300]})", flush=True)
            sys.exit(77)
    return found


def check(key, value):
    print(f"CHECK {key} {value!r}" if isinstance(value, float) else f"CHECK {key} {value}", flush=True)


def run(rung, body):
    """Runs body(), printing PASS/FAIL; an exception is a FAIL with its last frame."""
    try:
        ok = body()
    except SystemExit:
        raise
    except BaseException as e:
        traceback.print_exc()
        print(f"FAIL {rung}: {type(e).__name__}: {str(e)[:300]}", flush=True)
        sys.exit(1)
    if ok is False:
        print(f"FAIL {rung}: wrong result", flush=True)
        sys.exit(1)
    print(f"PASS {rung}", flush=True)
    sys.exit(0)
