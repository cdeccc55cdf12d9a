#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every test, as root on Debian 12: installs the packages, builds a
# normal tree (build/) and an ASan+UBSan tree (build-asan/), warnings as
# errors, and runs the whole ctest suite in both, as many tests at a time as
# there are cores (a test that bounds a time runs alone: "# ctest: serial" in
# its header, see tests/CMakeLists.txt); then builds the fuzz
# harnesses with clang (build-fuzz/: libFuzzer, ASan, UBSan) and runs
# each for a share of VR_FUZZ_SECONDS (default 190 s in all), failing on
# any crash (tests/fuzz/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)

./deploy/install-deps.sh

build() {
    local dir=$1
    shift
    cmake -S . -B "$dir" -DVR_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$JOBS" -- --no-print-directory >/dev/null
}

echo "== build (RelWithDebInfo)"
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build (ASan+UBSan)"
build build-asan -DCMAKE_BUILD_TYPE=Debug -DVR_SANITIZE=ON

# The per-role images, which integration.compose starts.  If docker/build.sh
# has to start dockerd for this run, it is stopped again at the end.
echo "== images"
pidfile=/run/vreserve/dockerd.pid
before=$(cat "$pidfile" 2>/dev/null || true)
stop_new_dockerd() {
    [ "$(cat "$pidfile" 2>/dev/null || true)" = "$before" ] ||
        ./docker/build.sh stop-daemon >/dev/null
}
trap stop_new_dockerd EXIT
./docker/build.sh

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== tests (RelWithDebInfo)"
(cd build && ctest --output-on-failure --timeout 300 -j "$JOBS")
echo "== tests (ASan+UBSan)"
(cd build-asan && ctest --output-on-failure --timeout 300 -j "$JOBS")

# A crash stops the run; its input is in build-fuzz/fuzz-artifacts/.
echo "== fuzz (clang, libFuzzer, ASan+UBSan)"
CC=clang cmake -S . -B build-fuzz -DVR_WERROR=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVR_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$JOBS" --target fuzz -- --no-print-directory \
    >/dev/null
./tests/fuzz/run.sh build-fuzz --seconds "${VR_FUZZ_SECONDS:-190}"
