#!/bin/bash
# SPDX-License-Identifier: MIT
# The test bed (deploy/testbed/vrbed): a 3 hosts x 2 VMs bed comes up as
# documented; hosts reach each other over the rate-limited commodity net
# (~100 Mbit/s by iperf3) and VMs reach nothing; a second bed runs beside
# it; a failed up leaves nothing; netns VMs stop and start on a running
# bed (vm-stop, vm-start); down ends every process and namespace, and is
# idempotent.  Needs root (exit 77 otherwise).
if [ "$(id -u)" -ne 0 ]; then
    echo "skip: the test bed needs root"
    exit 77
fi
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

VRBED="$VR_SRC_DIR/deploy/testbed/vrbed"
A="vt$$a"            # a PID is unique among live tests
B=""                 # picked by vrbed itself
BEDS=("$A")

# Takes our beds down at exit, whatever happened (lib.sh's cleanup hook).
tb_down_all() {
    local p
    for p in "${BEDS[@]}"; do
        [ -z "$p" ] || "$VRBED" down --prefix "$p" >/dev/null 2>&1
    done
}
vr_on_cleanup tb_down_all

ok() {
    echo "ok - $*"
}

in_ns() {
    "$VRBED" exec --prefix "$A" "$@"
}

# Namespaces of bed $1 still in the kernel's list.
bed_namespaces() {
    ip netns list | awk '{print $1}' | grep -E "^$1-(net|sw|h[0-9]+(v[0-9]+)?)$" || true
}

has_pids() {
    [ -n "$(ip netns pids "$1")" ]
}

# --- bring-up
start=$SECONDS
"$VRBED" up --prefix "$A" --hosts 3 --vms 2 >"$T/up.json" || fail "up $A"
ok "up $A (3 hosts x 2 VMs) in $((SECONDS - start)) s"

rc=0
"$VRBED" up --prefix "$A" --hosts 1 --vms 1 >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "second up of $A gave exit $rc"
grep -q "already up" "$T/err" || fail "second up: $(cat "$T/err")"
[ "$(bed_namespaces "$A" | wc -l)" = 10 ] || fail "second up damaged $A"
ok "a second up of $A is refused and leaves it alone"

rc=0
"$VRBED" up --hosts 0 >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "up --hosts 0 gave exit $rc, want 2"
rc=0
"$VRBED" status --prefix "nobed$$" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "status of no bed gave exit $rc, want 1"
ok "exit codes: 2 for usage, 1 for failure"

# --- the description
"$VRBED" status --prefix "$A" --json >"$T/status.json" || fail "status --json"
cmp -s <(jq -S . "$T/up.json") <(jq -S . "$T/status.json") \
    || fail "up and status --json disagree"
python3 - "$T/status.json" "$A" <<'EOF' || fail "status --json is not as documented"
import json, sys
j = json.load(open(sys.argv[1]))
p = sys.argv[2]
assert j["prefix"] == p and j["rate"] == "100mbit", j
assert j["underlay_mtu"] == 9000 and j["vm_mtu"] == 1500, j
assert len(j["hosts"]) == 3, j
for i, h in enumerate(j["hosts"], 1):
    assert h["name"] == f"h{i}" and h["netns"] == f"{p}-h{i}", h
    assert h["ip"] == f"10.200.0.{i}" and h["ifname"] == "c0", h
    assert len(h["vms"]) == 2, h
    for k, v in enumerate(h["vms"], 1):
        assert v["name"] == f"h{i}v{k}" and v["netns"] == f"{p}-h{i}v{k}", v
        assert v["mac"] == f"02:00:00:00:{i:02x}:{k:02x}", v
        assert v["ip"] == f"10.201.{i}.{k}" and v["host_if"] == f"vm{k}", v
EOF
"$VRBED" status --prefix "$A" >"$T/status.txt" || fail "status"
grep -q "h3v2 .*02:00:00:00:03:02 .*10.201.3.2" "$T/status.txt" \
    || fail "status text: $(cat "$T/status.txt")"
"$VRBED" list | grep -qx "$A" || fail "list lacks $A"
ok "status (--json and text) and list describe the bed"

# --- interfaces
for i in 1 2 3; do
    for k in 1 2; do
        ip -n "$A-h${i}v$k" -j addr show dev eth0 >"$T/eth0.json"
        mac=$(printf '02:00:00:00:%02x:%02x' "$i" "$k")
        got=$(jq -r '.[0] | "\(.address) \(.mtu) \(.operstate) " +
            ([.addr_info[] | "\(.family)/\(.local)/\(.prefixlen)"] | join(","))' \
            "$T/eth0.json")
        [ "$got" = "$mac 1500 UP inet/10.201.$i.$k/16" ] \
            || fail "h${i}v$k eth0: $got"
        ip -n "$A-h$i" -j addr show dev "vm$k" >"$T/vm.json"
        got=$(jq -r '.[0] | "\(.mtu) \(.master // "-") \(.addr_info | length)"' \
            "$T/vm.json")
        [ "$got" = "1500 - 0" ] || fail "h$i vm$k (mtu master n_addrs): $got"
    done
    got=$(ip -n "$A-h$i" -j link show dev c0 | jq -r '.[0].mtu')
    [ "$got" = 9000 ] || fail "h$i c0 mtu $got"
    tc -n "$A-h$i" qdisc show dev c0 | grep -q "^qdisc tbf .*rate 100Mbit" \
        || fail "h$i c0: no tbf: $(tc -n "$A-h$i" qdisc show dev c0)"
    tc -n "$A-net" qdisc show dev "h$i" | grep -q "^qdisc tbf .*rate 100Mbit" \
        || fail "net port h$i: no tbf"
    [ -z "$(ip -n "$A-h${i}v1" -6 addr show)" ] || fail "h${i}v1 has IPv6"
done
ok "VM eth0 MAC/IP/MTU, bare vmJ, c0 MTU 9000, tbf on both ends, no IPv6"

# --- reachability
for i in 1 2 3; do
    for k in 1 2 3; do
        [ "$i" = "$k" ] && continue
        in_ns "h$i" ping -c 1 -W 2 "10.200.0.$k" >/dev/null \
            || fail "h$i cannot ping h$k"
    done
done
ok "hosts ping each other over the commodity network"

if in_ns h1v1 ping -c 1 -W 1 10.201.2.1 >/dev/null; then
    fail "h1v1 pings h2v1 on a bare bed"
fi
ok "a VM cannot ping a VM on another host (no overlay yet)"

rc=0
"$VRBED" exec --prefix "$A" --timeout 1 h1v1 sleep 30 || rc=$?
[ "$rc" = 124 ] || fail "exec --timeout 1 sleep 30 gave $rc, want 124"
ok "exec --timeout ends a command in a namespace"

# --- the rate limit
vr_start iperf "$VRBED" exec --prefix "$A" h2 iperf3 -s -1 -B 10.200.0.2
vr_until 5 in_ns h2 sh -c 'ss -Hltn | grep -q "10.200.0.2:5201"' \
    || fail "iperf3 server did not listen"
in_ns h1 iperf3 -c 10.200.0.2 -t 3 -J >"$T/iperf.json" \
    || fail "iperf3 client: $(cat "$T/iperf.json")"
mbps=$(jq '.end.sum_received.bits_per_second / 1e6 | floor' "$T/iperf.json")
if [ "$mbps" -lt 70 ] || [ "$mbps" -gt 110 ]; then
    fail "h1 -> h2 measured $mbps Mbit/s, want 70 to 110"
fi
wait "$(cat "$T/iperf.pid")" || fail "iperf3 server exited non-zero"
ok "iperf3 h1 -> h2: $mbps Mbit/s"

# --- a second bed beside the first, and a failed one
"$VRBED" up --hosts 2 --vms 1 >"$T/b.json" || fail "up of a second bed"
B=$(jq -r .prefix "$T/b.json")
BEDS+=("$B")
[ "$B" != "$A" ] || fail "second bed got prefix $A"
"$VRBED" exec --prefix "$B" h1 ping -c 1 -W 2 10.200.0.2 >/dev/null \
    || fail "$B: h1 cannot ping h2"
in_ns h1 ping -c 1 -W 2 10.200.0.2 >/dev/null || fail "$A broke when $B came up"
"$VRBED" list >"$T/list"
if ! grep -qx "$A" "$T/list" || ! grep -qx "$B" "$T/list"; then
    fail "list: $(cat "$T/list")"
fi
ok "second bed $B up beside $A, both work"

mkdir "$T/fake"
printf '#!/bin/sh\necho fake tc failure >&2\nexit 1\n' >"$T/fake/tc"
chmod +x "$T/fake/tc"
C="vt$$c"
BEDS+=("$C")
rc=0
PATH="$T/fake:$PATH" "$VRBED" up --prefix "$C" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "up with a failing tc gave exit $rc"
if [ -n "$(bed_namespaces "$C")" ] || [ -e "/run/vrbed/$C" ]; then
    fail "failed up left: $(bed_namespaces "$C")"
fi
ok "an up that fails part way removes what it made"

# --- VMs that start and stop on a running bed (vm-start, vm-stop)
S="vt$$s"
BEDS+=("$S")
"$VRBED" up --prefix "$S" --hosts 2 --vms 2 --stopped --offloads off >/dev/null \
    || fail "up --stopped"
[ "$(bed_namespaces "$S" | sort | tr '\n' ' ')" = "$S-h1 $S-h2 $S-net " ] \
    || fail "up --stopped made VM namespaces: $(bed_namespaces "$S")"
! ip -n "$S-h1" link show vm1 >/dev/null 2>&1 || fail "up --stopped left vm1 in h1"
for bad in "h1v1 h1v1" "h1" "h1v1;x" "--bogus h1v1"; do
    rc=0
    # shellcheck disable=SC2086 # the words of each bad case
    "$VRBED" vm-start --prefix "$S" $bad 2>/dev/null || rc=$?
    [ "$rc" = 2 ] || fail "vm-start $bad gave exit $rc, not 2"
done
rc=0
"$VRBED" vm-start --prefix "$S" h1v3 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q "no VM 'h1v3'" "$T/err" || fail "vm-start h1v3: $rc $(cat "$T/err")"
"$VRBED" vm-start --prefix "$S" h1v2 h2v1 || fail "vm-start h1v2 h2v1"
got=$("$VRBED" exec --prefix "$S" h1v2 ip -br addr show eth0 | awk '{print $3}')
[ "$got" = 10.201.1.2/16 ] || fail "h1v2 eth0: $got"
[ "$(ip -n "$S-h1" -j link show vm2 | jq -r '.[0] | "\(.mtu) \(.operstate)"')" = "1500 UP" ] \
    || fail "vm2 in h1 is not up at MTU 1500"
ip netns exec "$S-h1" ethtool -k vm2 | grep -q "^tcp-segmentation-offload: off" \
    || fail "vm2 kept its offloads (--offloads off)"
rc=0
"$VRBED" vm-start --prefix "$S" h1v2 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q "running already" "$T/err" || fail "a second vm-start: $rc $(cat "$T/err")"
vr_start svm "$VRBED" exec --prefix "$S" h1v2 sleep 600
vr_until 5 has_pids "$S-h1v2" || fail "sleep did not start in h1v2"
"$VRBED" vm-stop --prefix "$S" h1v2 || fail "vm-stop h1v2"
wait "$(cat "$T/svm.pid")" 2>/dev/null || true
! kill -0 "$(cat "$T/svm.pid")" 2>/dev/null || fail "vm-stop left h1v2's process"
[ ! -e "/run/netns/$S-h1v2" ] || fail "vm-stop left namespace $S-h1v2"
! ip -n "$S-h1" link show vm2 >/dev/null 2>&1 || fail "vm-stop left vm2 in h1"
"$VRBED" vm-stop --prefix "$S" h1v2 || fail "vm-stop of a stopped VM failed"
"$VRBED" vm-start --prefix "$S" h1v2 || fail "vm-start h1v2 again"
"$VRBED" down --prefix "$S" || fail "down $S"
[ -z "$(bed_namespaces "$S")" ] || fail "down left: $(bed_namespaces "$S")"
ok "up --stopped, vm-start and vm-stop of netns VMs; bad and repeated ones refused"

# --- circuits: a VLAN switch and a circuit NIC per host
V="vt$$v"
BEDS+=("$V")
"$VRBED" up --prefix "$V" --hosts 2 --vms 1 --circuits --vlans 1790-1795 \
    >"$T/v.json" 2>"$T/v.err" || fail "up --circuits: $(cat "$T/v.err")"
[ "$(jq -r .circuits.netns "$T/v.json")" = "$V-sw" ] || fail "no circuits in bed.json"
[ "$(jq -r .circuits.vlans "$T/v.json")" = 1790-1795 ] || fail "vlans not kept"
filtering=$(jq -r .circuits.vlan_filtering "$T/v.json")
[ "$filtering" = true ] || [ "$filtering" = false ] || fail "vlan_filtering '$filtering'"
[ "$(ip -n "$V-sw" -j link show h1 | jq -r '.[0].master')" = br0 ] || fail "h1 not on the switch"
for h in 1 2; do
    [ "$(ip -n "$V-h$h" -j link show ckt0 | jq -r '.[0].operstate')" = UP ] \
        || fail "h$h: ckt0 not up"
    [ "$(ip -n "$V-h$h" -j addr show ckt0 | jq '.[0].addr_info | length')" = 0 ] \
        || fail "h$h: ckt0 has an address"
done
if [ "$filtering" = true ]; then
    bridge -n "$V-sw" -j vlan show dev h1 | jq -e '.[0].vlans | any(.vlan == 1790 and .vlanEnd == 1795)' >/dev/null \
        || fail "h1 is no trunk of 1790-1795"
fi
# The switch carries frames between the hosts' circuit NICs.
ip -n "$V-h1" addr add 10.213.0.1/30 dev ckt0
ip -n "$V-h2" addr add 10.213.0.2/30 dev ckt0
ip netns exec "$V-h1" ping -c 1 -W 2 -q 10.213.0.2 >/dev/null || fail "no frames across the switch"
"$VRBED" status --prefix "$V" | grep -q "circuits: switch br0 in $V-sw" || fail "status shows no circuits"
rc=0
"$VRBED" up --prefix "${V}x" --circuits --vlans 4095 >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "--vlans 4095 gave exit $rc, not 2"
"$VRBED" down --prefix "$V" || fail "down $V"
[ -z "$(bed_namespaces "$V")" ] || fail "down left: $(bed_namespaces "$V")"
ok "--circuits: a switch P-sw (VLAN filtering $filtering), ckt0 on each host; down removes it"

# --- down
vr_start sleeper "$VRBED" exec --prefix "$A" h3v2 sleep 600
vr_until 5 has_pids "$A-h3v2" || fail "sleep did not start"
sleeper=$(cat "$T/sleeper.pid")
"$VRBED" down --prefix "$A" || fail "down $A"
"$VRBED" down --prefix "$B" || fail "down $B"
wait "$sleeper" 2>/dev/null || true
if kill -0 "$sleeper" 2>/dev/null; then
    fail "down left a process running in $A"
fi
for p in "$A" "$B"; do
    [ -z "$(bed_namespaces "$p")" ] || fail "down left: $(bed_namespaces "$p")"
    [ ! -e "/run/vrbed/$p" ] || fail "down left /run/vrbed/$p"
    if "$VRBED" list | grep -qx "$p"; then
        fail "list still shows $p"
    fi
    "$VRBED" down --prefix "$p" || fail "second down of $p failed"
done
ok "down ends processes, removes every namespace and state; again succeeds"

echo "1 passed, 0 failed"
