#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs every Debian package that the build, the tests, the demo and the
# benchmarks need.  Idempotent: packages already present are skipped without
# touching the network.  Quiet unless something fails.
#
#   install-deps.sh          everything (build, tests, demo, images)
#   install-deps.sh build    only what building needs (docker/Dockerfile's
#                            builder stage uses this, so the list lives here)
set -eu

BUILD_PKGS="
build-essential cmake pkg-config
libzmq3-dev libczmq-dev libprotobuf-c-dev protobuf-c-compiler
libpcap-dev libyaml-dev libsqlite3-dev libsodium-dev libmicrohttpd-dev
libjson-c-dev libssl-dev
libcurl4-openssl-dev libxml2-dev
"
# Tests, demo and benchmarks; docker.io, docker-compose and debootstrap
# build and run the per-role images (docker/build.sh, test_compose);
# clang and libclang-rt-dev (libFuzzer and the sanitizer runtimes, only
# recommended by clang) build the fuzz tree (tests/fuzz/run.sh).
# qemu-system-x86 runs the test bed's QEMU guests (vrbed --vm-kind qemu)
# and busybox-static is their userland (deploy/testbed/guest-image.sh;
# the guest kernel is fetched there with apt-get download, not installed).
TEST_PKGS="
iproute2 iperf3 iputils-ping ethtool procps
python3 jq gnuplot-nox graphviz sqlite3
docker.io docker-compose debootstrap
clang libclang-rt-dev
qemu-system-x86 busybox-static
"

case "${1:-all}" in
build) PKGS=$BUILD_PKGS ;;
all) PKGS="$BUILD_PKGS $TEST_PKGS" ;;
*)
    echo "usage: install-deps.sh [build|all]" >&2
    exit 2
    ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: must run as root (apt-get)" >&2
    exit 1
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; } \
        >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-deps: failed to install:$missing" >&2
    exit 1
fi
