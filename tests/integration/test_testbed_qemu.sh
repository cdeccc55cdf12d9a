#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: serial
# The test bed with QEMU guests (vrbed up --vm-kind qemu): 2 hosts x 1 VM
# boot within the bound, each guest's NIC a tap named as a netns VM's
# veth end, with its MAC, IP and MTU; `vrbed exec` returns a guest
# command's stdout, stderr and exit code (a failing one's too, and a
# timed-out one's); guests reach nothing on a bare bed, and ping each
# other and run iperf3 once a vnet-agent captures each host's tap; down
# ends every QEMU by its recorded PID and leaves no tap, namespace or
# state.  Needs root and qemu-system-x86_64 (exit 77 otherwise).  Under
# TCG (no usable KVM) each boot takes 5 to 20 s.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
vr_qemu_test

VRBED="$VR_SRC_DIR/deploy/testbed/vrbed"
VNETCTL="$BIN/vnetctl"
P="vq$$"
[ -x "$BIN/vr-bsp" ] || fail "no $BIN/vr-bsp (the guest image carries it)"
vr_on_cleanup '"$VRBED" down --prefix "$P" >/dev/null 2>&1'

ok() {
    echo "ok - $*"
}
in_vm() {
    "$VRBED" exec --prefix "$P" "$@"
}
mac() { printf '02:00:00:00:%02x:%02x' "$1" "$2"; }
bed_qemus() { vr_bed_qemus "$P"; }

# --- bring-up
start=$SECONDS
"$VRBED" up --prefix "$P" --hosts 2 --vms 1 --vm-kind qemu --boot-timeout 100 \
    >"$T/up.json" 2>"$T/up.log" || { cat "$T/up.log" >&2; fail "up $P"; }
cat "$T/up.log"
ok "up $P (2 hosts x 1 QEMU guest) in $((SECONDS - start)) s"
accel=$(jq -r .accel "$T/up.json")
case $accel in kvm | tcg) ;; *) fail "accel '$accel'" ;; esac
grep -q "QEMU guests run under ${accel^^} " "$T/up.log" || fail "up did not say the accelerator"
[ "$(grep -c "^vrbed: h[12]v1 booted in [0-9.]* s$" "$T/up.log")" = 2 ] \
    || fail "up did not report both boots"
"$VRBED" status --prefix "$P" --json >"$T/status.json"
cmp -s <(jq -S . "$T/up.json") <(jq -S . "$T/status.json") || fail "up and status disagree"
for i in 1 2; do
    v=$(jq -c ".hosts[$((i - 1))].vms[0]" "$T/up.json")
    [ "$(jq -r '"\(.name) \(.netns) \(.mac) \(.ip) \(.host_if)"' <<<"$v")" \
        = "h${i}v1 null $(mac "$i" 1) 10.201.$i.1 vm1" ] || fail "plan of h${i}v1: $v"
    grep -q "^vrbed-guest: ready" "$(jq -r .console <<<"$v")" || fail "h${i}v1: no console log"
    [ ! -e "/run/netns/$P-h${i}v1" ] || fail "a namespace for QEMU guest h${i}v1"
    ip -n "$P-h$i" -d -j link show vm1 >"$T/tap.json"
    got=$(jq -r '.[0] | "\(.linkinfo.info_kind) \(.linkinfo.info_data.type) \(.mtu) \(.operstate)"' \
        "$T/tap.json")
    [ "$got" = "tun tap 1500 UP" ] || fail "h$i vm1 (kind type mtu state): $got"
done
"$VRBED" status --prefix "$P" | grep -q "h2v1  qemu, console .*02:00:00:00:02:01" \
    || fail "status text: $("$VRBED" status --prefix "$P")"
[ "$(stat -c %a "/run/vrbed/$P/vm")" = 700 ] || fail "the command sockets' directory is not root-only"
mapfile -t pids < <(cat "/run/vrbed/$P/vm/"*.pid)
[ "${#pids[@]}" = 2 ] || fail "recorded PIDs: ${pids[*]}"
[ "$(bed_qemus | sort)" = "$(printf '%s\n' "${pids[@]}" | sort)" ] \
    || fail "live QEMUs $(bed_qemus) are not the recorded ${pids[*]}"
ok "plan, console logs, taps vm1 (no VM namespaces), one QEMU per recorded PID ($accel)"

# --- the command channel
rc=0
in_vm h1v1 sh -c 'echo "out $((6 * 7))"; echo err >&2; exit 3' >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 3 ] || fail "exit 3 came back as $rc"
[ "$(cat "$T/out")" = "out 42" ] || fail "stdout: $(cat "$T/out")"
[ "$(cat "$T/err")" = "err" ] || fail "stderr: $(cat "$T/err")"
in_vm h1v1 true || fail "true failed"
rc=0
in_vm h2v1 false || rc=$?
[ "$rc" = 1 ] || fail "false gave $rc"
rc=0
in_vm h2v1 no-such-command 2>/dev/null || rc=$?
[ "$rc" = 127 ] || fail "a missing command gave $rc"
for i in 1 2; do
    got=$(in_vm "h${i}v1" sh -c 'cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu;
        ip -o -4 addr show dev eth0 | awk "{print \$4}"; hostname' | tr '\n' ' ')
    [ "$got" = "$(mac "$i" 1) 1500 10.201.$i.1/16 h${i}v1 " ] || fail "h${i}v1 eth0: $got"
done
# Words with spaces and quotes reach the guest as they were.
got=$(in_vm h1v1 printf '[%s]' "a b" "it's" '$HOME')
[ "$got" = "[a b][it's][\$HOME]" ] || fail "quoting: $got"
# A big output comes back whole.
got=$(in_vm h2v1 sh -c 'seq 1 20000' | sha256sum)
[ "$got" = "$(seq 1 20000 | sha256sum)" ] || fail "seq 1 20000 came back changed"
# Two commands at once, on two channels: the second is done while the
# first still runs.
in_vm h1v1 sleep 8 &
bg=$!
VR_PIDS+=("$bg")
in_vm h1v1 true || fail "a second command failed"
kill -0 "$bg" 2>/dev/null || fail "the second command waited for the first"
wait "$bg" || fail "sleep 8 failed"
# A client that goes away mid-command: the guest sends its reply to the
# next client of that channel, which reads past it to its own.
vr_start gone "$VRBED" exec --prefix "$P" h2v1 sh -c 'sleep 3; seq 1 5000; echo stale'
sleep 1
kill -KILL "$(cat "$T/gone.pid")"
for n in 1 2 3 4; do
    got=$(in_vm h2v1 echo "fresh $n") || fail "exec after a client went away"
    [ "$got" = "fresh $n" ] || fail "a stale reply came back: $(head -c 200 <<<"$got")"
done
t0=$SECONDS
rc=0
in_vm --timeout 1 h2v1 sleep 30 2>/dev/null || rc=$?
[ "$rc" = 143 ] || fail "a timed-out command gave $rc, want 143 (SIGTERM)"
[ $((SECONDS - t0)) -lt 10 ] || fail "--timeout 1 took $((SECONDS - t0)) s"
rc=0
in_vm h2v7 true 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q "no VM 'h2v7'" "$T/err" || fail "exec on no VM: $rc $(cat "$T/err")"
in_vm h1 ip link show vm1 >/dev/null || fail "exec in a host namespace"
# The project's workload runs in the guest, with the libraries it took.
in_vm h1v1 vr-bsp --print-edges --n 2 --json >"$T/edges.json" || fail "vr-bsp in h1v1"
jq -e '.edges | length > 0' "$T/edges.json" >/dev/null || fail "vr-bsp: $(cat "$T/edges.json")"
ok "exec: stdout, stderr, exit codes 0/1/3/127/143, quoting, 20000 lines, two at once, stale replies skipped, vr-bsp runs"

# --- the guests' network: nothing on a bare bed, then the overlay
if in_vm h1v1 ping -c 1 -W 1 10.201.2.1 >/dev/null; then
    fail "h1v1 pings h2v1 on a bare bed"
fi
ok "a guest cannot ping the other on a bare bed"

vr_overlay_keys h1 h2
start_agent() {
    local i=$1
    vr_bed_agent_yaml "$T/agent-h$i.yaml" "$i" "ipc://$T/agent-h$i" \
        'ports: [vm1]' 'period_ms: 100' 'hello_ms: 300'
    vr_start "agent-h$i" ip netns exec "$P-h$i" "$BIN/vnet-agent" -c "$T/agent-h$i.yaml"
}
start_agent 1
start_agent 2
for i in 1 2; do
    vr_until 15 "$VNETCTL" -e agent="ipc://$T/agent-h$i" status agent \
        || fail "agent h$i did not come up"
done
t0=$SECONDS
until in_vm h1v1 ping -c 1 -W 1 10.201.2.1 >/dev/null; do
    [ $((SECONDS - t0)) -lt 30 ] || fail "h1v1 cannot ping h2v1 through the agents"
done
in_vm h1v1 ping -c 3 -i 0.2 -W 2 10.201.2.1 >"$T/ping" || fail "$(cat "$T/ping")"
in_vm h2v1 ping -c 3 -i 0.2 -W 2 10.201.1.1 >"$T/ping" || fail "$(cat "$T/ping")"
grep "round-trip" "$T/ping"
ok "the guests ping each other through the agents (first answer after $((SECONDS - t0)) s)"

in_vm h2v1 iperf3 -s -D -1 -B 10.201.2.1 || fail "iperf3 -s in h2v1"
vr_until 10 in_vm h2v1 sh -c 'netstat -ltn | grep -q ":5201 "' || fail "iperf3 did not listen"
in_vm --timeout 30 h1v1 iperf3 -c 10.201.2.1 -t 2 -J >"$T/iperf.json" \
    || fail "iperf3 h1v1 -> h2v1: $(head -c 500 "$T/iperf.json")"
mbps=$(jq '.end.sum_received.bits_per_second / 1e6 | floor' "$T/iperf.json")
[ "$mbps" -gt 0 ] || fail "iperf3 moved nothing"
ok "iperf3 h1v1 -> h2v1 through the overlay: $mbps Mbit/s ($accel)"

vr_stop_services agent-h1 agent-h2

# --- down
"$VRBED" down --prefix "$P" || fail "down $P"
for pid in "${pids[@]}"; do
    ! kill -0 "$pid" 2>/dev/null || fail "QEMU $pid survived down"
done
[ -z "$(bed_qemus)" ] || fail "QEMUs left: $(bed_qemus)"
left=$(ip netns list | awk '{print $1}' | grep -E "^$P-" || true)
[ -z "$left" ] || fail "namespaces left: $left"
[ ! -e "/run/vrbed/$P" ] || fail "down left /run/vrbed/$P"
"$VRBED" down --prefix "$P" || fail "a second down failed"
ok "down ends both QEMUs by PID, leaves no tap, namespace or state; again succeeds"

# --- an up that fails once a guest runs: QEMU fails for the second guest
C="vq$$c"
vr_on_cleanup '"$VRBED" down --prefix "$C" >/dev/null 2>&1'
mkdir "$T/fake"
cat >"$T/fake/qemu-system-x86_64" <<SH
#!/bin/sh
case " \$* " in *" $C-h1v2 "*) echo "fake QEMU failure" >&2; exit 1 ;; esac
exec $(command -v qemu-system-x86_64) "\$@"
SH
chmod +x "$T/fake/qemu-system-x86_64"
rc=0
PATH="$T/fake:$PATH" "$VRBED" up --prefix "$C" --hosts 1 --vms 2 --vm-kind qemu \
    >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "up with a failing QEMU gave exit $rc"
grep -q "QEMU did not start for h1v2: fake QEMU failure" "$T/err" || fail "up: $(cat "$T/err")"
P=$C
[ -z "$(bed_qemus)" ] || fail "a failed up left QEMUs: $(bed_qemus)"
left=$(ip netns list | awk '{print $1}' | grep -E "^$C-" || true)
[ -z "$left" ] && [ ! -e "/run/vrbed/$C" ] || fail "a failed up left: $left"
ok "an up that fails with a guest running stops it and removes the rest"

echo "1 passed, 0 failed"
