#!/bin/bash
# SPDX-License-Identifier: MIT
# Overlay benchmark (not a test: it prints figures, asserts nothing).
#
# One run, one machine: vm1 -> vm2 across two hosts, iperf3 TCP with 1 and
# 4 streams, RTT idle and under load, the daemons' CPU, for
#   - the peers, measured by ../shared/tools/anchor-bench.sh in this same
#     run: direct veth, kernel VXLAN, OpenVPN tap/UDP without crypto, tinc
#     switch mode without crypto, and the encrypted ones: OpenVPN tap/UDP
#     AES-256-GCM, tinc with its default crypto, wireguard-go (L3 over a
#     TUN, routed: not an Ethernet overlay);
#   - vnet-agent over UDP encrypted (the default), authenticated only, and
#     with no keys at all (overlay.insecure), with accounting on and off,
#     and over TCP, on a vrbed bed with the peers' MTUs (1500-byte
#     underlay, 1400-byte VM NICs), and over UDP on the bed's default
#     9000-byte underlay.
# and prints one table with each case's ratio to the better of OpenVPN and
# tinc without crypto, and to the best encrypted peer; then what
# authentication alone costs.  Needs root; the peers' packages are
# installed by anchor-bench.
#
#   tests/bench/overlay.sh                 # everything, DUR=5 s per run
#   DUR=8 CASES_OURS="udp" tests/bench/overlay.sh
#   SKIP_PEERS=1 tests/bench/overlay.sh    # our cases only
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=$PWD
BIN=${VR_BIN:-$SRC/build/bin}
BED="$SRC/deploy/testbed/vrbed"
ANCHOR=${ANCHOR:-$SRC/../shared/tools/anchor-bench.sh}
DUR=${DUR:-5}
OMIT=${OMIT:-1}
CASES_OURS=${CASES_OURS:-"udp udp-auth udp-plain udp-noacct tcp udp-mtu9000"}
# The accounting cost is smaller than run-to-run noise: measure on and off
# alternately this many more times and report the means.
ACCT_REPS=${ACCT_REPS:-2}
SKIP_PEERS=${SKIP_PEERS:-0}
OUT=${OUT_DIR:-/tmp/vr-bench-overlay.$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
CLK_TCK=$(getconf CLK_TCK)

[ "$(id -u)" = 0 ] || { echo "overlay.sh: needs root" >&2; exit 1; }
[ -x "$BIN/vnet-agent" ] || { echo "overlay.sh: build first ($BIN)" >&2; exit 1; }

PREFIX="vb$$"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    "$BED" down --prefix "$PREFIX" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# ------------------------------------------------------------------ peers
PEER_TSV=""
if [ "$SKIP_PEERS" != 1 ] && [ -x "$ANCHOR" ]; then
    PEER_CASES=${PEER_CASES:-"direct vxlan ovpn-udp-none tinc-none ovpn-udp-aes tinc wggo"}
    log "peers: anchor-bench ($PEER_CASES)"
    CASES="$PEER_CASES" DUR=$DUR OMIT=$OMIT \
        OUT_DIR="$OUT/peers" "$ANCHOR" >"$OUT/peers.log" 2>&1 || true
    PEER_TSV="$OUT/peers/results.tsv"
    [ -s "$PEER_TSV" ] || { log "peers: no results (see $OUT/peers.log)"; PEER_TSV=""; }
elif [ "$SKIP_PEERS" != 1 ]; then
    log "peers: $ANCHOR not found; our cases only"
fi

# ------------------------------------------------------------------ ours
ticks() {   # ticks PID...: user+sys clock ticks
    local t=0 p
    for p in "$@"; do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

# iperf_run STREAMS LOADED: sets G (Gbit/s), RETR, CPU1, CPU2, RTTL
iperf_run() {
    local n=$1 loaded=$2 json="$CASE_DIR/iperf-$1.json" pingpid=""
    ip netns exec "$PREFIX-h2v1" timeout $((DUR + OMIT + 20)) \
        iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
    local srv=$!
    sleep 0.3
    if [ "$loaded" = 1 ]; then
        ip netns exec "$PREFIX-h1v1" ping -i 0.05 -q -w $((DUR + OMIT)) \
            10.201.2.1 >"$CASE_DIR/ping-loaded.txt" 2>&1 &
        pingpid=$!
    fi
    local a1 b1 a2 b2 t0 t1
    a1=$(ticks "$A1"); b1=$(ticks "$A2"); t0=$(date +%s.%N)
    ip netns exec "$PREFIX-h1v1" timeout $((DUR + OMIT + 20)) iperf3 \
        -c 10.201.2.1 -p 5201 -t "$DUR" -O "$OMIT" -P "$n" -J >"$json" || true
    t1=$(date +%s.%N); a2=$(ticks "$A1"); b2=$(ticks "$A2")
    [ -n "$pingpid" ] && wait "$pingpid" 2>/dev/null || true
    wait "$srv" 2>/dev/null || true
    G=$(jq -r '(.end.sum_received.bits_per_second // 0) / 1e9' "$json" \
        | awk '{printf "%.3f", $1}')
    RETR=$(jq -r '.end.sum_sent.retransmits // "-"' "$json")
    CPU1=$(awk -v d=$((a2 - a1)) -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" \
        'BEGIN{printf "%.0f", 100*d/hz/(b-a)}')
    CPU2=$(awk -v d=$((b2 - b1)) -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" \
        'BEGIN{printf "%.0f", 100*d/hz/(b-a)}')
    RTTL="-"
    if [ "$loaded" = 1 ]; then
        RTTL=$(awk -F'[/ ]' '/^rtt/{for(i=1;i<=NF;i++) if($i=="=") {print $(i+2); exit}}' \
            "$CASE_DIR/ping-loaded.txt")
    fi
}

OURS_TSV="$OUT/ours.tsv"
: >"$OURS_TSV"
run_ours() {
    local name=$1 tsv=${2:-$OURS_TSV} umtu=1500 vmtu=1400 acct=true tcp=0
    local sec="encrypt: true" crypto
    case "$name" in
    udp) ;;
    udp-auth) sec="encrypt: false" ;;
    udp-plain) sec="insecure: true" ;;
    udp-noacct) acct=false ;;
    tcp) tcp=1 ;;
    udp-mtu9000) umtu=9000 vmtu=1500 ;;
    *) log "unknown case $name"; return ;;
    esac
    CASE_DIR="$OUT/vnet-$name.$RANDOM"
    mkdir -p "$CASE_DIR"
    case "$sec" in
    "insecure: true") crypto=none ;;
    "encrypt: false") crypto=auth-only ;;
    *) if grep -qw aes /proc/cpuinfo; then crypto=AES-256-GCM
       else crypto=ChaCha20Poly1305; fi ;;
    esac
    log "case vnet-$name: underlay MTU $umtu, VM MTU $vmtu, accounting $acct, $crypto"
    "$BIN/vnetctl" keygen "$CASE_DIR/keys" agent-h1 agent-h2 >/dev/null
    "$BED" up --prefix "$PREFIX" --hosts 2 --vms 1 --rate off \
        --underlay-mtu "$umtu" --vm-mtu "$vmtu" >/dev/null
    for i in 1 2; do
        {
            echo "id: h$i"
            [ "$i" = 2 ] && echo "proxy_addr: 10.200.0.1:7000"
            echo "bus: {control: 'ipc://$CASE_DIR/h$i', aggregator: 'ipc://$CASE_DIR/ingest'}"
            echo "overlay: {listen: '10.200.0.$i:7000', mtu: $umtu, $sec," \
                "key: '$CASE_DIR/keys/agent-h$i.key'," \
                "peers_dir: '$CASE_DIR/keys'}"
            echo "ports: [vm1]"
            echo "accounting: $acct"
        } >"$CASE_DIR/h$i.yaml"
        ip netns exec "$PREFIX-h$i" "$BIN/vnet-agent" -q -c "$CASE_DIR/h$i.yaml" \
            >"$CASE_DIR/agent-h$i.log" 2>&1 &
        PIDS+=("$!")
        eval "A$i=$!"
    done
    if [ "$tcp" = 1 ]; then
        # Both agents get a TCP link to each other and rules onto it.
        local ctl="$BIN/vnetctl"
        "$ctl" link add t 10.200.0.2:7000 --tcp --agent "ipc://$CASE_DIR/h1" >/dev/null
        "$ctl" link add t 10.200.0.1:7000 --tcp --agent "ipc://$CASE_DIR/h2" >/dev/null
        sleep 1.2   # the first end to connect is refused until both exist
        "$ctl" rule add 02:00:00:00:02:01 t --agent "ipc://$CASE_DIR/h1" >/dev/null
        "$ctl" rule add 02:00:00:00:01:01 t --agent "ipc://$CASE_DIR/h2" >/dev/null
    fi
    local ok=0
    for _ in $(seq 50); do
        if ip netns exec "$PREFIX-h1v1" ping -c 1 -W 0.2 -q 10.201.2.1 \
            >/dev/null 2>&1; then
            ok=1
            break
        fi
    done
    if [ "$ok" = 1 ]; then
        ip netns exec "$PREFIX-h1v1" ping -c 20 -i 0.05 -q 10.201.2.1 \
            >"$CASE_DIR/ping-idle.txt" 2>&1 || true
        local rtt
        rtt=$(awk -F'[/ ]' '/^rtt/{for(i=1;i<=NF;i++) if($i=="=") {print $(i+1)"/"$(i+2)"/"$(i+3); exit}}' \
            "$CASE_DIR/ping-idle.txt")
        iperf_run 1 1
        local g1=$G r1=$RETR c1="$CPU1/$CPU2" rl=$RTTL
        iperf_run 4 0
        printf 'vnet-%s\t%s\t%s\t%s\tok\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" \
            "$([ "$tcp" = 1 ] && echo TCP || echo UDP)" "$crypto" "$vmtu" "$g1" "$r1" \
            "$G" "$RETR" "${rtt:--}" "${rl:--}" "$c1" >>"$tsv"
    else
        printf 'vnet-%s\t-\tnone\t%s\tFAIL\t-\t-\t-\t-\t-\t-\t-\n' "$name" \
            "$vmtu" >>"$tsv"
    fi
    kill -TERM "$A1" "$A2" 2>/dev/null || true
    wait "$A1" "$A2" 2>/dev/null || true
    "$BED" down --prefix "$PREFIX" >/dev/null
}
for c in $CASES_OURS; do
    run_ours "$c"
done
ACCT_TSV="$OUT/acct.tsv"
: >"$ACCT_TSV"
for ((r = 0; r < ACCT_REPS; r++)); do
    run_ours udp "$ACCT_TSV"
    run_ours udp-noacct "$ACCT_TSV"
done

# ------------------------------------------------------------------ table
echo
echo "=== overlay benchmark ($(date -Is), $(nproc) cores, iperf3 ${DUR}s after ${OMIT}s; raw: $OUT) ==="
{
    if [ -n "$PEER_TSV" ]; then
        # anchor-bench columns: case transport crypto mtu status gbps_1 retr_1
        # gbps_4 retr_4 rtt_min rtt_avg rtt_max ... rtt_loaded(15) cpu1_h1(16)
        # cpu1_h2(17)
        awk -F'\t' '!/^#/ && $1 != "case" {printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
            $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 "/" $11 "/" $12, $15, $16 "/" $17}' \
            "$PEER_TSV"
    fi
    cat "$OURS_TSV"
} >"$OUT/all.tsv"
awk -F'\t' '
    { n++; row[n] = $0; if ($1 ~ /^ovpn-udp-none|^tinc-none/ && $6 + 0 > best1) best1 = $6 + 0
      if ($1 ~ /^ovpn-udp-none|^tinc-none/ && $8 + 0 > best4) best4 = $8 + 0
      if (($1 == "ovpn-udp-aes" || $1 == "tinc" || $1 == "wggo") && $6 + 0 > enc1) {
          enc1 = $6 + 0; encname = $1 } }
    END {
        fmt = "%-18s %-16s %-17s %5s %-6s %8s %6s %8s %6s %22s %10s %10s %7s %7s %7s\n"
        printf fmt, "case", "transport", "crypto", "MTU", "status", "1str", "retr", "4str", "retr",
            "RTT idle ms", "RTT load", "CPU% h1/h2", "x best", "x best", "x enc"
        printf fmt, "", "", "", "", "", "Gbit/s", "", "Gbit/s", "", "min/avg/max", "avg ms",
            "1 stream", "1str", "4str", "1str"
        for (i = 1; i <= n; i++) {
            split(row[i], f, "\t")
            r1 = (best1 > 0 && f[6] + 0 > 0) ? sprintf("%.2f", f[6] / best1) : "-"
            r4 = (best4 > 0 && f[8] + 0 > 0) ? sprintf("%.2f", f[8] / best4) : "-"
            re = (enc1 > 0 && f[6] + 0 > 0) ? sprintf("%.2f", f[6] / enc1) : "-"
            printf fmt, f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], r1, r4, re
        }
        if (best1 > 0)
            printf "x best = ratio to the better of OpenVPN (UDP, no crypto) and tinc (no crypto) in this run\n"
        if (enc1 > 0)
            printf "x enc = ratio to the best encrypted peer in this run (%s, %.3f Gbit/s, 1 stream); wggo is L3 over a TUN (routed), not an Ethernet overlay\n", encname, enc1
    }' "$OUT/all.tsv"
# What authentication alone costs: authenticated-only against no keys.
awk -F'\t' '$1 == "vnet-udp-plain" { p = $6 } $1 == "vnet-udp-auth" { a = $6 }
    $1 == "vnet-udp" { e = $6 }
    END { if (p > 0 && a > 0)
        printf "authentication alone: %.3f vs %.3f Gbit/s with no keys, 1 stream (%+.1f%%); encrypted %.3f (%+.1f%%)\n",
            a, p, 100 * (a - p) / p, e, 100 * (e - p) / p }' "$OUT/all.tsv"
# Accounting: every run of each (the table's and the extra ones), means.
cat "$OURS_TSV" "$ACCT_TSV" | awk -F'\t' '
    $1 == "vnet-udp" { a1 += $6; a4 += $8; na++ }
    $1 == "vnet-udp-noacct" { b1 += $6; b4 += $8; nb++ }
    END {
        if (na && nb) {
            a1 /= na; a4 /= na; b1 /= nb; b4 /= nb
            printf "accounting on vs off, mean of %d runs each: 1 stream %.3f vs %.3f Gbit/s (%+.1f%%), 4 streams %.3f vs %.3f (%+.1f%%)\n",
                na, a1, b1, 100 * (a1 - b1) / b1, a4, b4, 100 * (a4 - b4) / b4
        }
    }'
if [ -x "$BIN/vr-acct-cost" ]; then
    ns=$("$BIN/vr-acct-cost")
    awk -F'\t' -v ns="$ns" '$1 == "vnet-udp" && !done {
        fps = $6 * 1e9 / 8 / 1414   # worst case: every frame a full 1400-MTU one, no GSO
        printf "accounting cost measured in isolation: %.2f ns per frame; at %s Gbit/s of unbatched 1414-byte frames that is %.2f%% of one core (%.0f frames/s); with GSO super-frames, far less\n",
            ns, $6, 100 * fps * ns / 1e9, fps; done = 1 }' "$OUT/all.tsv"
fi
