#!/bin/bash
# SPDX-License-Identifier: MIT
# Makes the CURVE certificates of a deployment, as root:
#
#   deploy/keys.sh DIR
#
# DIR/<name>.key and DIR/<name>.key_secret for every role and for the
# operator's vnetctl (`vnetctl keygen`; existing ones are kept), and
# DIR/public/ with a copy of every public half, readable by all: the
# directory the services take as both curve.allowed (who may connect) and
# curve.servers (whom they connect to).
#
# The images run every role but the agent as uid 10001 (docker/Dockerfile),
# so those roles' secrets are given to that uid (VR_UID to change it), mode
# 0400; the agent's and vnetctl's stay root's.  Keep DIR on this machine; on
# several machines give each only its own secret and DIR/public.
#
# vnetctl: $VNETCTL, else build/bin/vnetctl, else vnetctl in PATH, else the
# image vreserve/vnetctl:dev.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: deploy/keys.sh DIR" >&2
    exit 2
fi
DIR=$1
UID_SVC=${VR_UID:-10001}
ROLES=(agent aggregator planner broker adapter)
SRC=$(cd "$(dirname "$0")/.." && pwd)

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
keygen() {
    if [ -n "${VNETCTL:-}" ]; then
        "$VNETCTL" keygen "$@"
    elif [ -x "$SRC/build/bin/vnetctl" ]; then
        "$SRC/build/bin/vnetctl" keygen "$@"
    elif command -v vnetctl >/dev/null; then
        vnetctl keygen "$@"
    else
        docker run --rm --user 0 -v "$DIR:$DIR" vreserve/vnetctl:dev keygen "$@"
    fi
}
for name in "${ROLES[@]}" vnetctl; do
    [ -e "$DIR/$name.key" ] || keygen "$DIR" "$name" >/dev/null
done

mkdir -p "$DIR/public"
chmod 0755 "$DIR" "$DIR/public"
for name in "${ROLES[@]}" vnetctl; do
    install -m 0644 "$DIR/$name.key" "$DIR/public/$name.key"
    chmod 0644 "$DIR/$name.key"
done
for name in aggregator planner broker adapter; do
    chown "$UID_SVC:$UID_SVC" "$DIR/$name.key_secret"
    chmod 0400 "$DIR/$name.key_secret"
done
echo "keys in $DIR (public halves in $DIR/public)"
