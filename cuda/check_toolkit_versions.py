#!/usr/bin/env python3
"""Drift check against the CUDA toolkit (run by CTest where the toolkit exists): for every base name in
cuda/entry_points.h, each ABI variant the toolkit's cudaTypedefs.h declares (PFN_<base>_v<version>) from our
oldest variant up to the CUDA version we claim must have a row in our table, so cuGetProcAddress hands a
program asking at that version the variant it expects. Exit 0 clean, 1 with the rows missing, 77 without a toolkit.
Usage: check_toolkit_versions.py ENTRY_POINTS_H CUDA_ABI_H CUDATYPEDEFS_H"""
import os
import re
import sys

entry_h, abi_h, typedefs_h = sys.argv[1:4]
if not os.path.exists(typedefs_h):
    print("SKIP: no %s" % typedefs_h)
    sys.exit(77)
claimed = int(re.search(r"#define CUDA_VERSION (\d+)", open(abi_h).read()).group(1))
ours = {}
for base, version in re.findall(r"\b[ET]\((cu\w+), (\d+), \w+", open(entry_h).read()):
    ours.setdefault(base, set()).add(int(version))
toolkit = {}
for base, version in re.findall(r"PFN_(cu\w+?)_v(\d+)(?:_ptsz|_ptds)?\)", open(typedefs_h).read()):
    toolkit.setdefault(base, set()).add(int(version))
missing = []
for base, versions in sorted(ours.items()):
    for v in sorted(toolkit.get(base, ())):
        # 7000 is where the per-thread twins appear: our T rows carry them beside the legacy variant.
        if min(versions) < v <= claimed and v not in versions and v != 7000:
            missing.append("%s: the toolkit has a variant at %d, our table does not (ours: %s)" %
                           (base, v, sorted(versions)))
for line in missing:
    print("MISSING " + line)
print("%d base names checked against %s (CUDA %d): %d variants missing" % (len(ours), typedefs_h, claimed,
                                                                          len(missing)))
sys.exit(1 if missing else 0)
