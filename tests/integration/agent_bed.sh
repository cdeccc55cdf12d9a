# SPDX-License-Identifier: MIT
# Agents on a test bed of their own, for the agent's tests (sourced after
# lib.sh, bash).  h1 is the star's proxy, every other agent its member.
#   agent_bed_up PREFIX VRBED-UP-ARGS...   the bed (down on exit); sets P
#   start_agent H [YAML-LINE...]           agent H on host H, waited for
#       (after vr_overlay_keys for every agent: each admits the keys
#       there at its start);
#       AGENT_LISTEN (default 10.200.0.N:7000) and AGENT_PORTS (default
#       [vm1]) in its environment change its listen address and ports
#   agent_ep H, ctl H ARGS..., counter H NAME, counter_is H NAME V,
#   counter_ge H NAME V, in_vm H CMD..., link_field H LINK FIELD
#   mklink H NAME PEER_HOST     link NAME on H to PEER_HOST, as the
#                               planner makes it (LinkCreate)
#   probe_both A B NAME         link NAME echoes a probe from both ends
#   link_both A B NAME          link NAME made on A and B, echoing

BED="$VR_SRC_DIR/deploy/testbed/vrbed"
CTL="$BIN/vnetctl"

agent_bed_up() {
    P=$1
    shift
    vr_on_cleanup '"$BED" down --prefix "$P" >/dev/null 2>&1'
    "$BED" up --prefix "$P" "$@" >/dev/null
}

agent_ep() { echo "ipc://$T/agent-$1"; }
ctl() { local h=$1; shift; "$CTL" -e agent="$(agent_ep "$h")" "$@"; }
counter() { ctl "$1" --json status agent | jq -r ".services[0].counters.$2"; }
counter_is() { [ "$(counter "$1" "$2")" = "$3" ]; }
counter_ge() { [ "$(counter "$1" "$2")" -ge "$3" ]; }
in_vm() { local h=$1; shift; ip netns exec "$P-${h}v1" "$@"; }
mklink() {
    "$BIN/vr-call" "$(agent_ep "$1")" agent LINK_CREATE link.name="$2" \
        link.peer="10.200.0.${3#h}:7000" link.peer_agent="$3" >/dev/null \
        || fail "LinkCreate $2 on $1"
}
probe_both() { ctl "$1" link probe "$3" && ctl "$2" link probe "$3"; }
link_both() {
    mklink "$1" "$3" "$2"
    mklink "$2" "$3" "$1"
    vr_until 5 probe_both "$1" "$2" "$3" || fail "$3 does not echo"
}
link_field() { # link_field H LINK FIELD
    ctl "$1" --json link list | jq -r ".[] | select(.name == \"$2\") | .$3"
}

start_agent() {
    local h=$1 role="# the proxy" line
    shift
    [ "$h" = h1 ] || role="proxy_addr: 10.200.0.1:7000"
    {
        cat <<YAML
id: $h
$role
bus: {control: '$(agent_ep "$h")', aggregator: 'ipc://$T/ingest'}
overlay: {listen: '${AGENT_LISTEN:-10.200.0.${h#h}:7000}', $(vr_overlay_yaml "$h")}
ports: ${AGENT_PORTS:-[vm1]}
period_ms: 100
hello_ms: 300
YAML
        for line in "$@"; do echo "$line"; done
    } >"$T/$h.yaml"
    vr_start "$h" ip netns exec "$P-$h" "$BIN/vnet-agent" -c "$T/$h.yaml"
    vr_until 10 ctl "$h" status agent || fail "agent $h did not come up"
}
