#!/bin/bash
# SPDX-License-Identifier: MIT
# Makes the CURVE certificates of a deployment, as root:
#
#   deploy/keys.sh DIR [AGENT_ID...]
#
# One certificate per role and one per agent host, each with its own key:
# DIR/<role>.key and DIR/<role>.key_secret for aggregator, planner, broker,
# adapter and the operator's vnetctl, and DIR/agent-<id>.key{,_secret} for
# every agent id given (default: agent1 agent2, the agents of
# deploy/compose.yaml).  Existing ones are kept (`vnetctl keygen`).
# DIR/public/ gets a copy of every public half, readable by all: the
# directory the services take as both curve.allowed (who may connect) and
# curve.servers (whom they connect to).
#
# The file name is the identity (common/authz.h): a service knows a client
# as the role and name of its certificate in curve.allowed, and checks what
# that role may ask of it; an agent may speak only for the id in its file
# name, so an agent's config `id:` must be that <id>.
#
# The images run every role but the agent as uid 10001 (docker/Dockerfile),
# so those roles' secrets are given to that uid (VR_UID to change it), mode
# 0400; the agents' and vnetctl's stay root's.  Keep DIR on this machine; on
# several machines give each only its own secret and DIR/public.
#
# vnetctl: $VNETCTL, else build/bin/vnetctl, else vnetctl in PATH, else the
# image vreserve/vnetctl:dev.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: deploy/keys.sh DIR [AGENT_ID...]" >&2
    exit 2
fi
DIR=$1
shift
AGENTS=("$@")
[ ${#AGENTS[@]} -gt 0 ] || AGENTS=(agent1 agent2)
for id in "${AGENTS[@]}"; do
    if ! [[ $id =~ ^[A-Za-z0-9._-]{1,60}$ ]]; then
        echo "deploy/keys.sh: bad agent id '$id'" >&2
        exit 2
    fi
done
UID_SVC=${VR_UID:-10001}
SERVICES=(aggregator planner broker adapter)
NAMES=("${SERVICES[@]}" vnetctl)
for id in "${AGENTS[@]}"; do
    NAMES+=("agent-$id")
done
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
for name in "${NAMES[@]}"; do
    [ -e "$DIR/$name.key" ] || keygen "$DIR" "$name" >/dev/null
done

mkdir -p "$DIR/public"
chmod 0755 "$DIR" "$DIR/public"
for name in "${NAMES[@]}"; do
    install -m 0644 "$DIR/$name.key" "$DIR/public/$name.key"
    chmod 0644 "$DIR/$name.key"
done
for name in "${SERVICES[@]}"; do
    chown "$UID_SVC:$UID_SVC" "$DIR/$name.key_secret"
    chmod 0400 "$DIR/$name.key_secret"
done
echo "keys in $DIR (public halves in $DIR/public; agents: ${AGENTS[*]})"
