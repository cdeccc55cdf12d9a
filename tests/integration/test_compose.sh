#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: lock docker
# The container deployment: docker/build.sh makes (or, when they are
# current, only checks) the per-role images; deploy/keys.sh makes a fresh
# set of CURVE certificates; deploy/compose.yaml starts the four control
# services and two agents with CURVE on.  The host's vnetctl, with the
# operator's key, finds all six up and encrypted through the ports
# published on the loopback; a vnetctl without a key gets nothing; a vnetctl
# container on the compose network reaches them by name; agent2 joined
# agent1's star; the broker keeps its state on its volume and runs
# unprivileged; every container exits 0 on stop.  Everything the test made
# (containers, network, volume, keys) is removed at exit, whatever
# happened.  dockerd is left running (docker/README.md).
#
# Root only (exit 77 otherwise).  Runs in the normal build tree only: the
# images do not depend on the build tree, so the ASan tree skips it.
if [ "$(id -u)" -ne 0 ]; then
    echo "skip: docker needs root"
    exit 77
fi
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
vr_normal_tree_only "the images are tested once"

# docker.io's client (the daemon's version), never left hanging.
dk() { timeout 30 /usr/bin/docker "$@"; }
P="vrc$$"                   # compose project: names its containers & co.
# A loopback address of our own: the published ports cannot collide with
# services of other tests bound to 127.0.0.1.
IP="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))"
KEYS="$T/keys"
COMPOSE_FILE="$VR_SRC_DIR/deploy/compose.yaml"

compose() {
    VR_KEYS="$KEYS" VR_PUBLISH_IP="$IP" \
        VR_CONFIG="$VR_SRC_DIR/deploy/config/examples/compose" \
        timeout 60 docker-compose --ansi never -f "$COMPOSE_FILE" -p "$1" "${@:2}"
}
# takedown PROJECT: its logs kept for the failure report, then the project
# down, then anything of it still there removed by its label.
takedown() {
    local ids ours=(--filter "label=com.docker.compose.project=$1")
    compose "$1" logs --no-color >"$T/compose.log" 2>&1
    compose "$1" down -v --remove-orphans -t 5 >>"$T/down.log" 2>&1
    mapfile -t ids < <(dk ps -aq "${ours[@]}")
    [ "${#ids[@]}" = 0 ] || dk rm -f "${ids[@]}" >/dev/null
    mapfile -t ids < <(dk volume ls -q "${ours[@]}")
    [ "${#ids[@]}" = 0 ] || dk volume rm -f "${ids[@]}" >/dev/null
    mapfile -t ids < <(dk network ls -q "${ours[@]}")
    [ "${#ids[@]}" = 0 ] || dk network rm "${ids[@]}" >/dev/null
}

# Every step below is bounded (timeout), so that our traps, not ctest's
# SIGKILL, end a stuck run.  What a SIGKILLed run left behind (a project
# vrc<PID> whose PID is gone) would hold the network's fixed subnet: take
# it down first.
for p in $(dk network ls --format '{{.Label "com.docker.compose.project"}}'); do
    [[ $p =~ ^vrc([0-9]+)$ ]] || continue
    kill -0 "${BASH_REMATCH[1]}" 2>/dev/null && continue
    echo "removing project $p, left by a killed run"
    takedown "$p"
done

# The images: a no-op from the build cache when they are current (tests/
# run-all.sh builds them before ctest).
t0=$SECONDS
timeout 420 "$VR_SRC_DIR/docker/build.sh" >"$T/images.log" 2>&1 \
    || { cat "$T/images.log" >&2; fail "docker/build.sh failed"; }
echo "images ready in $((SECONDS - t0)) s"

# The example configs are valid for the binaries of this tree.
EX="$VR_SRC_DIR/deploy/config/examples"
for f in "$EX"/*/*.yaml; do
    case $(basename "$f") in
    agent*) b=vnet-agent ;; aggregator*) b=vttif-aggregator ;;
    planner*) b=vadapt-planner ;; broker*) b=vreserve-broker ;;
    adapter*) b=odin-adapter ;; vnetctl*) continue ;;
    *) fail "example config $f: which program?" ;;
    esac
    "$BIN/$b" -c "$f" --check >/dev/null || fail "$b rejects $f"
done

VNETCTL="$BIN/vnetctl" "$VR_SRC_DIR/deploy/keys.sh" "$KEYS" >/dev/null
vr_on_cleanup "takedown $P"
t0=$SECONDS
compose "$P" up -d >"$T/up.log" 2>&1 || fail "compose up failed"

# The operator's vnetctl: the example host config, on our address and keys.
sed -e "s|127\.0\.0\.1|$IP|" -e "s|deploy/keys|$KEYS|" \
    "$EX/compose/vnetctl-host.yaml" >"$T/ctl.yaml"
grep -v -e '^curve:' -e '^  cert:' -e '^  servers:' "$T/ctl.yaml" \
    | sed 's/^timeout_ms: .*/timeout_ms: 800/' >"$T/ctl-plain.yaml"
CTL=("$BIN/vnetctl" -c "$T/ctl.yaml")

vr_until 30 timeout 10 "${CTL[@]}" status || {
    timeout 10 "${CTL[@]}" status >&2 || true
    fail "not every role answered within 30 s"
}
echo "all up in $((SECONDS - t0)) s"
timeout 10 "${CTL[@]}" status
"${CTL[@]}" --json status >"$T/status.json"
[ "$(json_get "$T/status.json" 'j["up"]')" = 6 ] || fail "not 6 up"
# The six, CURVE on; each agent's own key speaks for it: the aggregator
# took both, refused nothing.
vr_status_check "$T/status.json" agent1 agent2 aggregator planner broker adapter

# CURVE is enforced on the published ports: no key, no answer.
rc=0
"$BIN/vnetctl" -c "$T/ctl-plain.yaml" --json status >"$T/plain.json" || rc=$?
[ "$rc" = 3 ] || fail "client without a key: exit $rc, expected 3 (no answer)"
[ "$(json_get "$T/plain.json" 'j["up"]')" = 0 ] || fail "client without a key was answered"

# The vnetctl image, on the compose network, by service name (labelled as
# the project's, so that the clean-up finds it whatever happens).
cat >"$T/ctl-net.yaml" <<YAML
agent: agent-agent1=tcp://agent1:7110
agents: [agent-agent2=tcp://agent2:7110]
aggregator: tcp://aggregator:7120
planner: tcp://planner:7130
broker: tcp://broker:7140
adapter: tcp://adapter:7150
timeout_ms: 2000
curve: {cert: /keys/vnetctl.key, servers: /keys/public}
YAML
chmod 0644 "$T/ctl-net.yaml"
dk run --rm --name "${P}_ctl" --user 0 --network "${P}_vrbus" \
    --label "com.docker.compose.project=$P" -v "$KEYS:/keys:ro" \
    -v "$T/ctl-net.yaml:/etc/vreserve/vnetctl.yaml:ro" vreserve/vnetctl:dev \
    -c /etc/vreserve/vnetctl.yaml status >"$T/in-net.log" 2>&1 \
    || fail "vnetctl image on the compose network: $(cat "$T/in-net.log")"
grep -q "6 of 6 up" "$T/in-net.log" || fail "vnetctl image: not 6 up"

cid() { compose "$P" ps -q "$1"; }
grep -q "agent 'agent2' joined" <(dk logs "$(cid agent1)" 2>&1) \
    || fail "agent2 did not join agent1's star"
[ "$(dk exec "$(cid broker)" id -un)" = vreserve ] || fail "broker not unprivileged"
dk exec "$(cid broker)" test -s /var/lib/vreserve/broker.db \
    || fail "broker.db not on its volume"

compose "$P" stop -t 10 >"$T/stop.log" 2>&1 || fail "compose stop failed"
for s in agent1 agent2 aggregator planner broker adapter; do
    rc=$(dk inspect -f '{{.State.ExitCode}}' "$(cid "$s")")
    [ "$rc" = 0 ] || fail "$s exited $rc on stop"
done
compose "$P" down -v -t 5 >"$T/down.log" 2>&1 || fail "compose down failed"
[ -z "$(dk ps -aq --filter "label=com.docker.compose.project=$P")" ] \
    || fail "containers left after down"
echo "1 passed, 0 failed"
