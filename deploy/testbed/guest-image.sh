#!/bin/bash
# SPDX-License-Identifier: MIT
# guest-image.sh: builds the kernel and initramfs that vrbed's QEMU guests
# boot (vrbed up --vm-kind qemu), from Debian packages only: the kernel
# and its virtio modules from linux-image-cloud-amd64 (fetched with
# apt-get download, never installed), busybox from busybox-static, and
# iperf3 and vr-bsp as this machine has them, each with the libraries ldd
# finds.  The guest's own scripts are deploy/testbed/guest/.
#
# The image is cached in a directory named by a hash of everything that
# goes in (this script, the guest scripts, the kernel package's version,
# every copied file's content), so a change to any of them makes a new
# image and an unchanged input reuses the old one.  The newest KEEP images
# are kept; older ones are removed.  Prints the image directory, which
# holds vmlinuz, initrd.img and manifest.txt.
#
#   guest-image.sh [--cache DIR] [--bsp PATH|--no-bsp]
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
readonly HERE
readonly KERNEL_META=linux-image-cloud-amd64
# Two build trees (RelWithDebInfo, ASan) and --no-bsp make three live images
# on a developer machine; a few more spare them a rebuild (~20 MB each).
readonly KEEP=6
# The modules the guest loads, with what they need (found in the modules).
readonly WANT_MODULES="virtio_pci virtio_net virtio_console"
CACHE=${VRBED_CACHE:-/var/cache/vrbed}
BSP=""
NO_BSP=0

die() {
    echo "guest-image: $*" >&2
    exit 1
}

usage() {
    echo "usage: guest-image.sh [--cache DIR] [--bsp PATH|--no-bsp]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --cache) [ $# -ge 2 ] || usage; CACHE=$2; shift 2 ;;
    --bsp) [ $# -ge 2 ] || usage; BSP=$2; shift 2 ;;
    --no-bsp) NO_BSP=1; shift ;;
    *) usage ;;
    esac
done
[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get download, the cache)"
[[ $CACHE == /* ]] || die "--cache wants an absolute path, not '$CACHE'"
if [ "$NO_BSP" = 0 ] && [ -z "$BSP" ]; then
    # The build tree next to the sources, as the docs build it.
    BSP=${VR_BUILD_DIR:-$HERE/../../build}/bin/vr-bsp
    [ -x "$BSP" ] || die "no vr-bsp at $BSP: build it, or give --bsp PATH or --no-bsp"
fi
[ "$NO_BSP" = 1 ] || [ -x "$BSP" ] || die "vr-bsp '$BSP' is not an executable"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1 \
    || die "no static $BUSYBOX: install busybox-static (deploy/install-deps.sh)"
IPERF3=$(command -v iperf3) || die "no iperf3: install it (deploy/install-deps.sh)"

# The kernel package the metapackage names now, and its version; both come
# from apt's local lists (no network).  apt-cache takes seconds on a busy
# machine, so the answer is kept until the lists change.
mkdir -p "$CACHE"
resolved=$CACHE/kernel.txt
kernel_pkg="" kernel_ver=""
if [ -s "$resolved" ] && [ "$resolved" -nt /var/lib/apt/lists ]; then
    read -r kernel_pkg kernel_ver <"$resolved" || true
fi
if ! [[ $kernel_pkg =~ ^linux-image-[a-z0-9.+-]+$ && $kernel_ver =~ ^[A-Za-z0-9.+:~-]+$ ]]; then
    kernel_pkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
    [[ $kernel_pkg =~ ^linux-image-[a-z0-9.+-]+$ ]] \
        || die "apt does not know $KERNEL_META (apt-get update?)"
    kernel_ver=$(apt-cache policy "$kernel_pkg" | awk '$1 == "Candidate:" {print $2}')
    [[ $kernel_ver =~ ^[A-Za-z0-9.+:~-]+$ ]] || die "no candidate version of $kernel_pkg"
    echo "$kernel_pkg $kernel_ver" >"$resolved.$$"
    mv "$resolved.$$" "$resolved"
fi
kernel_release=${kernel_pkg#linux-image-}

# Prints BINARY and every library ldd resolves for it, one path a line.
with_libs() {
    local line
    echo "$1"
    ldd "$1" | while read -r line; do
        case $line in
        *"=> not found"*) die "$1: ${line%% *} not found" ;;
        *"=> /"*) line=${line#*=> }; echo "${line%% (*}" ;;
        /*) echo "${line%% (*}" ;;
        esac
    done
}

files=$(
    {
        with_libs "$IPERF3"
        [ "$NO_BSP" = 1 ] || with_libs "$(realpath "$BSP")"
    } | sort -u
)

# The cache key: every input's content.
key=$(
    {
        # The scripts by content and name in the tree, wherever it is.
        (cd "$HERE" && sha256sum guest-image.sh guest/*)
        sha256sum "$BUSYBOX"
        echo "$kernel_pkg $kernel_ver"
        # shellcheck disable=SC2086 # one path a line, no spaces
        sha256sum $files
    } | sha256sum | cut -c1-16
)
IMAGE=$CACHE/image-$key
exec 9>"$CACHE/.lock"
flock -w 600 9 || die "could not lock $CACHE/.lock in 600 s"
if [ -f "$IMAGE/manifest.txt" ]; then
    touch "$IMAGE"
    echo "$IMAGE"
    exit 0
fi

WORK=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The kernel package, downloaded once per version and kept beside the
# images (apt-get download runs as _apt: give it the directory).
deb_dir=$CACHE/debs
mkdir -p "$deb_dir"
deb=$deb_dir/${kernel_pkg}_${kernel_ver//:/%3a}_amd64.deb
if [ ! -f "$deb" ]; then
    echo "guest-image: apt-get download $kernel_pkg=$kernel_ver" >&2
    chown _apt "$WORK" 2>/dev/null || true
    (cd "$WORK" && apt-get download -q "$kernel_pkg=$kernel_ver" >&2) \
        || die "apt-get download $kernel_pkg=$kernel_ver failed"
    [ -f "$WORK/${deb##*/}" ] || die "apt-get download made no ${deb##*/}"
    # Only the newest kernel package is worth keeping.
    find "$deb_dir" -maxdepth 1 -name 'linux-image-*.deb' -delete
    mv "$WORK/${deb##*/}" "$deb"
fi
dpkg-deb -x "$deb" "$WORK/kernel"
moddir=$WORK/kernel/lib/modules/$kernel_release
[ -f "$WORK/kernel/boot/vmlinuz-$kernel_release" ] || die "$deb has no vmlinuz"

# The modules in load order: each after those its .modinfo 'depends' names.
declare -A MODPATH=() MOD_DONE=()
while IFS= read -r f; do
    m=${f##*/}
    m=${m%.ko}
    MODPATH[${m//-/_}]=$f
done < <(find "$moddir" -name '*.ko')
ORDER=()
add_module() {
    local m=${1//-/_} deps d
    [ -z "${MOD_DONE[$m]:-}" ] || return 0
    [ -n "${MODPATH[$m]:-}" ] || die "module $m is not in $kernel_pkg"
    MOD_DONE[$m]=1
    deps=$(tr '\0' '\n' <"${MODPATH[$m]}" | sed -n 's/^depends=//p' | head -n 1)
    for d in ${deps//,/ }; do
        add_module "$d"
    done
    ORDER+=("$m")
}
for m in $WANT_MODULES; do
    add_module "$m"
done

root=$WORK/root
mkdir -p "$root"/{bin,dev,etc/vrbed,lib/modules,proc,sys,tmp,run,usr/bin}
cp "$BUSYBOX" "$root/bin/busybox"
for a in $("$BUSYBOX" --list); do
    [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done
ln -s bin/busybox "$root/init"
cp "$HERE/guest/inittab" "$root/etc/inittab"
cp "$HERE/guest/rc" "$HERE/guest/chan" "$HERE/guest/nic" "$root/etc/vrbed/"
chmod 755 "$root/etc/vrbed/rc" "$root/etc/vrbed/chan" "$root/etc/vrbed/nic"
for m in "${ORDER[@]}"; do
    cp "${MODPATH[$m]}" "$root/lib/modules/$m.ko"
    echo "$m" >>"$root/lib/modules/order"
done
# shellcheck disable=SC2086 # one path a line, no spaces
for f in $files; do
    case $f in
    "$IPERF3") cp -L "$f" "$root/usr/bin/iperf3" ;;
    *) if [ "$NO_BSP" = 0 ] && [ "$f" = "$(realpath "$BSP")" ]; then
           cp -L "$f" "$root/usr/bin/vr-bsp"
       else
           mkdir -p "$root$(dirname "$f")"
           cp -L "$f" "$root$f"
       fi ;;
    esac
done
echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
printf '127.0.0.1 localhost\n' >"$root/etc/hosts"

mkdir "$WORK/out"
cp "$WORK/kernel/boot/vmlinuz-$kernel_release" "$WORK/out/vmlinuz"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort \
    | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -6 -n >"$WORK/out/initrd.img"
{
    echo "key $key"
    echo "kernel $kernel_pkg $kernel_ver"
    echo "modules ${ORDER[*]}"
    echo "busybox $(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo '?')"
    echo "iperf3 $(dpkg-query -W -f='${Version}' iperf3 2>/dev/null || echo '?')"
    echo "vr-bsp ${BSP:-none}"
    echo "files $(tr '\n' ' ' <<<"$files")"
    echo "initrd_bytes $(stat -c %s "$WORK/out/initrd.img")"
} >"$WORK/out/manifest.txt"
mv "$WORK/out" "$IMAGE"

# Aging: the newest KEEP images stay.
ls -1dt "$CACHE"/image-* 2>/dev/null | tail -n +$((KEEP + 1)) | while read -r old; do
    rm -rf "$old"
done
echo "guest-image: built $IMAGE" >&2
echo "$IMAGE"
