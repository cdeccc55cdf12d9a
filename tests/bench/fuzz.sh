#!/bin/bash
# SPDX-License-Identifier: MIT
# The long fuzz run: builds the clang fuzz tree (build-fuzz/, libFuzzer,
# ASan, UBSan) and runs every harness for RUNS executions (default 10^7),
# one after the other, printing per harness its executions, libFuzzer's
# coverage figure (cov:), the seconds it took and whether it crashed
# (tests/fuzz/run.sh; a crashing input is kept in
# build-fuzz/fuzz-artifacts/ and becomes a file in tests/data/<name>/).
#
#   tests/bench/fuzz.sh [--runs N] [--each SECONDS] [NAME...]
#
# --each caps each harness's time (the service harnesses and metrics run
# hundreds, not hundreds of thousands, of inputs a second: 10^7 of them
# is a day).  As root on Debian 12; installs clang if it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${VR_FUZZ_RUNS:-10000000}
each=
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --each) each=$2; shift 2 ;;
    -h|--help) sed -n '3,15p' "$0"; exit 0 ;;
    *) break ;;
    esac
done
./deploy/install-deps.sh
CC=clang cmake -S . -B build-fuzz -DVR_WERROR=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVR_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzz -- \
    --no-print-directory >/dev/null
exec ./tests/fuzz/run.sh build-fuzz --runs "$runs" ${each:+--each "$each"} "$@"
