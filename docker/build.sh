#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the per-role images vreserve/<role>:dev from this checkout, as root
# on Debian 12, with no image registry:
#
#   1. installs docker.io, docker-compose and debootstrap if missing;
#   2. starts dockerd if none answers (see "The daemon" below);
#   3. makes the base image vreserve/debian:bookworm if missing, with
#      debootstrap --variant=minbase from the Debian mirror apt already uses,
#      imported with `docker import`;
#   4. builds the six role images from docker/Dockerfile (--network host, so
#      apt-get inside reaches the same mirror), then prunes the untagged
#      images its earlier builds left.
#
# Usage: docker/build.sh [ROLE...]      (default: all six roles)
#        docker/build.sh stop-daemon    ends the dockerd this script started
#
# Quiet: one line per step with its time; the full log of a failed step is
# printed.  Environment: VR_TAG (default dev), VR_BASE_IMAGE (default
# vreserve/debian:bookworm), VR_REBUILD_BASE=1 remakes the base image.
#
# The daemon: if no dockerd answers on the default socket, this starts one
# (setsid, in the background, log /var/log/vreserve-dockerd.log) with
# --iptables=false --ip6tables=false, so it never rewrites the host's
# firewall, and records its PID in /run/vreserve/dockerd.pid.  It is left
# running, so that images and later runs can use it; `build.sh stop-daemon`
# ends it (that PID only, and only if it is still that dockerd).  A dockerd
# that was already running (e.g. started by systemd) is used as it is and
# never stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

ROLES_ALL=(agent aggregator planner broker adapter vnetctl)
TAG=${VR_TAG:-dev}
BASE=${VR_BASE_IMAGE:-vreserve/debian:bookworm}
PIDFILE=/run/vreserve/dockerd.pid
DLOG=/var/log/vreserve-dockerd.log

# The docker client that came with the daemon (docker.io), if there is one:
# another client earlier in PATH may speak a different API version.
docker_cli() {
    if [ -x /usr/bin/docker ]; then
        /usr/bin/docker "$@"
    else
        docker "$@"
    fi
}

our_dockerd_pid() {
    local pid
    [ -r "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE")
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
    echo "$pid"
}

if [ "${1:-}" = stop-daemon ]; then
    if pid=$(our_dockerd_pid); then
        kill -TERM "$pid"
        for _ in $(seq 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        rm -f "$PIDFILE"
        echo "build.sh: stopped dockerd $pid"
    else
        echo "build.sh: no dockerd started by this script is running"
    fi
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "build.sh: must run as root (apt-get, dockerd)" >&2
    exit 1
fi
ROLES=("${@:-${ROLES_ALL[@]}}")
for r in "${ROLES[@]}"; do
    [[ " ${ROLES_ALL[*]} " == *" $r "* ]] || {
        echo "build.sh: unknown role '$r' (${ROLES_ALL[*]})" >&2
        exit 2
    }
done

LOG=$(mktemp /tmp/vr-images.XXXXXX)
ROOTFS=""
cleanup() {
    rm -f "$LOG"
    [ -z "$ROOTFS" ] || rm -rf "$ROOTFS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# step NAME CMD...: runs CMD with its output in $LOG, prints NAME and the
# time it took; on failure prints the log's tail and exits.
step() {
    local name=$1 t0=$SECONDS
    shift
    if ! "$@" >"$LOG" 2>&1; then
        tail -n 60 "$LOG" >&2
        echo "build.sh: $name failed" >&2
        exit 1
    fi
    echo "build.sh: $name ($((SECONDS - t0)) s)"
}

# 1. Packages.
install_pkgs() {
    local missing="" p
    for p in docker.io docker-compose debootstrap; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            missing="$missing $p"
    done
    [ -n "$missing" ] || return 0
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
}
step "packages" install_pkgs

# 2. The daemon.
start_dockerd() {
    docker_cli info >/dev/null 2>&1 && return 0
    mkdir -p "$(dirname "$PIDFILE")"
    setsid dockerd --iptables=false --ip6tables=false \
        </dev/null >>"$DLOG" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 60); do
        docker_cli info >/dev/null 2>&1 && return 0
        kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
        sleep 0.5
    done
    tail -n 30 "$DLOG"
    echo "dockerd did not come up (log: $DLOG)"
    return 1
}
step "dockerd" start_dockerd

# 3. The base image.  The mirror is the one apt uses for bookworm (deb822
# .sources or one-line sources.list); the security archive too, if apt
# uses one, so the images get security updates.
mirror_for() {
    local suite=$1
    {
        cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$suite" '
            /^[ \t]*$/ { if (ok && uri != "") print uri; ok = 0; uri = ""; next }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
            END { if (ok && uri != "") print uri }'
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            sed 's/\[[^]]*\]//' | awk -v s="$suite" '$1 == "deb" && $3 == s { print $2 }'
    } | head -n 1
}

make_base() {
    local mirror security
    mirror=$(mirror_for bookworm)
    security=$(mirror_for bookworm-security)
    if [ -z "$mirror" ]; then
        echo "no Debian bookworm mirror in /etc/apt/sources.list{,.d}"
        return 1
    fi
    echo "mirror: $mirror; security: ${security:-none}"
    ROOTFS=$(mktemp -d /tmp/vr-rootfs.XXXXXX)
    debootstrap --variant=minbase bookworm "$ROOTFS" "$mirror"
    {
        echo "deb $mirror bookworm main"
        echo "deb $mirror bookworm-updates main"
        [ -z "$security" ] || echo "deb $security bookworm-security main"
    } >"$ROOTFS/etc/apt/sources.list"
    # No recommends, no caches in the layers built on top.
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        >"$ROOTFS/etc/apt/apt.conf.d/90vreserve"
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
    tar -C "$ROOTFS" --numeric-owner -c . |
        docker_cli import -c 'CMD ["/bin/bash"]' -c 'ENV LANG=C.UTF-8' - "$BASE"
    rm -rf "$ROOTFS"
    ROOTFS=""
}
if [ "${VR_REBUILD_BASE:-0}" = 1 ] || ! docker_cli image inspect "$BASE" >/dev/null 2>&1; then
    step "base image $BASE" make_base
else
    echo "build.sh: base image $BASE present"
fi

# 4. The role images.  The legacy builder (DOCKER_BUILDKIT=0) is what
# Debian's docker.io ships working; stages shared by the roles come from
# its cache after the first.
# The builder stage is tagged too (vreserve/builder:TAG), which keeps it,
# the build cache of the next run, from the prune below.
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
for role in builder "${ROLES[@]}"; do
    step "image vreserve/$role:$TAG" env DOCKER_BUILDKIT=0 \
        "$(command -v /usr/bin/docker || command -v docker)" build \
        --network host --build-arg "BASE=$BASE" --target "$role" \
        --label "org.opencontainers.image.revision=$rev" \
        -t "vreserve/$role:$TAG" -f docker/Dockerfile .
done
# The untagged leftovers of earlier builds (an old builder stage is ~1 GB).
step "prune old build images" docker_cli image prune -f --filter label=io.vreserve.build=1
