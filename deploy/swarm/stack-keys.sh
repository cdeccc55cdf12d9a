#!/bin/bash
# SPDX-License-Identifier: MIT
# Prints the keys' part of the swarm stack (deploy/swarm/README.md), a
# compose file to give `docker stack deploy` after deploy/swarm/stack.yaml:
#
#   deploy/swarm/stack-keys.sh KEYS >KEYS/stack-keys.yaml
#
# KEYS is a directory made by deploy/keys.sh.  Every public certificate in
# KEYS/public becomes a swarm config, mounted in every service's
# /etc/vreserve/keys (curve.allowed, curve.servers, the agents'
# overlay.peers_dir); each control service gets its own certificate as
# /etc/vreserve/cert/<role>.key (a config) and its secret half as
# <role>.key_secret (a swarm secret, owned by uid VR_UID [10001], mode 0400,
# given to that service only).  The agents' secret halves are not here:
# each node keeps its own (VR_AGENT_CERT in stack.yaml).  Paths in the
# output are absolute, so it may live anywhere.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -d "$1/public" ]; then
    echo "usage: deploy/swarm/stack-keys.sh KEYS  (a directory of deploy/keys.sh)" >&2
    exit 2
fi
DIR=$(cd "$1" && pwd)
UID_SVC=${VR_UID:-10001}
[[ $UID_SVC =~ ^[0-9]{1,9}$ ]] || {
    echo "stack-keys.sh: bad VR_UID '$UID_SVC'" >&2
    exit 2
}
[[ $DIR != *[\"\\$'\n']* ]] || {
    echo "stack-keys.sh: the directory's path cannot be quoted in YAML" >&2
    exit 2
}
SERVICES=(aggregator planner broker adapter)

# The public certificates, by name (<role> or agent-<id>): checked, since
# each becomes a config name and a file name.
NAMES=()
for f in "$DIR"/public/*.key; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .key)
    if ! [[ $n =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$ ]]; then
        echo "stack-keys.sh: skipping '$f': not a certificate name" >&2
        continue
    fi
    NAMES+=("$n")
done
for s in "${SERVICES[@]}"; do
    for f in "$DIR/public/$s.key" "$DIR/$s.key_secret"; do
        [ -r "$f" ] || {
            echo "stack-keys.sh: $f missing (deploy/keys.sh $1)" >&2
            exit 1
        }
    done
done

public_mounts() {
    local n
    echo "    configs:"
    for n in "${NAMES[@]}"; do
        echo "      - {source: pub-$n, target: /etc/vreserve/keys/$n.key, mode: 0444}"
    done
}

echo "# SPDX-License-Identifier: MIT"
echo "# Made by deploy/swarm/stack-keys.sh from $DIR: do not edit."
echo 'version: "3.8"'
echo "services:"
for s in "${SERVICES[@]}"; do
    echo "  $s:"
    public_mounts
    echo "      - {source: cert-$s, target: /etc/vreserve/cert/$s.key, mode: 0444}"
    echo "    secrets:"
    echo "      - {source: secret-$s, target: /etc/vreserve/cert/$s.key_secret," \
         "uid: \"$UID_SVC\", gid: \"$UID_SVC\", mode: 0400}"
done
echo "  agent:"
public_mounts
echo "configs:"
for n in "${NAMES[@]}"; do
    echo "  pub-$n: {file: \"$DIR/public/$n.key\"}"
done
for s in "${SERVICES[@]}"; do
    echo "  cert-$s: {file: \"$DIR/public/$s.key\"}"
done
echo "secrets:"
for s in "${SERVICES[@]}"; do
    echo "  secret-$s: {file: \"$DIR/$s.key_secret\"}"
done
