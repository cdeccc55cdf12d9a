# SPDX-License-Identifier: MIT
# Chaos on the whole loop (sourced after lib.sh, bash): issue 15 items 3-4.
# Used by test_chaos.sh, test_chaos_oclient.sh (short, in CI) and
# tests/bench/chaos.sh (long).
#
# The bed: 4 hosts x 2 VMs and a fifth host as the star's proxy, every
# service running, the adapter's netns backend making real veth paths
# (delays scaled by 0.05), its oclient backend driving the stand-in
# (tests/tools/oclient) told at random to hang, crash, fail or be slow
# mid-call, or its nsi backend booking VLAN circuits at the real OpenNSA
# (chaos_nsi.sh), which is killed and restarted as one more victim.  A BSP job (vr-bsp, 8 ranks) runs one pattern per phase; the
# phases change.  Over and over: kill -9 a random service (aggregator,
# planner, broker, adapter or one of the agents; by the PID we started)
# at a random moment, restart it after a random 0-3 s.  Checked:
#  - during: no host pair reserved twice; a killed agent is back in the
#    star within 2 s of its restart;
#  - after each phase's kills (within CHAOS_SETTLE_S of the last restart):
#    the planner holds an up link for each pair the phase needs (over a
#    reservation, or the commodity network where one failed), the broker's
#    open reservations are exactly its reserved links', all ACTIVE, the
#    adapter's live paths exactly theirs, the vrp devices (or ODIN's
#    paths, or the NSI provider's live connections) exactly the
#    adapter's (chaos_check.py agree);
#  - a ping -i 0.01 between two VMs over a reserved path loses nothing
#    while only control services are killed;
#  - every reservation's history is a legal sequence, and none went from
#    ACTIVE to FAILED (chaos_check.py history).
# Seeded (CHAOS_SEED): the same seed makes the same choices; a failure
# prints the seed and the command that replays it (CHAOS_KEEP=DIR keeps
# every log of a failed run there).

BED="$VR_SRC_DIR/deploy/testbed/vrbed"
CHECK="$VR_SRC_DIR/tests/integration/chaos_check.py"
CHAOS_SEED=${CHAOS_SEED:-$(( $(date +%s%N) % 1000000 ))}
CHAOS_KILLS=${CHAOS_KILLS:-30}
CHAOS_SETTLE_S=${CHAOS_SETTLE_S:-40}
CHAOS_BACKEND=${CHAOS_BACKEND:-netns}
CHAOS_REPLAY="CHAOS_SEED=$CHAOS_SEED $0"
[[ $CHAOS_SEED =~ ^[0-9]{1,9}$ ]] || fail "CHAOS_SEED must be 0 to 999999999"
[[ $CHAOS_KILLS =~ ^[0-9]{1,5}$ ]] || fail "CHAOS_KILLS must be a count"
RANDOM=$CHAOS_SEED
P="ch$$"
CONTROL=(aggregator planner broker adapter)
VICTIMS=(aggregator planner broker adapter agent-h1 agent-h2 agent-h3 agent-h4
    agent-h5)
if [ "$CHAOS_BACKEND" = nsi ]; then
    source "$VR_SRC_DIR/tests/integration/nsi_lib.sh"
    source "$VR_SRC_DIR/tests/integration/chaos_nsi.sh"
    # The provider's restart leaves the data plane alone: one of the
    # control victims, under the ping too.
    CONTROL+=(provider)
    VICTIMS+=(provider)
fi
PATTERNS=(ring mesh tree neighbor)
N_KILLS=0 N_CHECKS=0 N_STAR=0 STAR_MAX_MS=0 SETTLE_MAX_MS=0 N_PINGS=0
declare -A KILLED=()

# (A cleanup hook: runs inside vr_cleanup, whose 'rc' is the exit code.)
chaos_failed() {
    [ "${rc:-1}" = 0 ] && return
    echo "CHAOS FAILED after $N_KILLS kills: seed $CHAOS_SEED; replay with:" >&2
    echo "    $CHAOS_REPLAY" >&2
    [ ! -e "$T/kills.log" ] || tail -n 15 "$T/kills.log" >&2
    # The control services' last decisions, first: CI shows only the
    # start and the end of a failed test's output, and the logs' tails
    # below are long.
    local f
    for f in planner broker; do
        [ -e "$T/$f.log" ] || continue
        echo "--- $f: its last decisions (over its restarts)" >&2
        # shellcheck disable=SC2046  # the logs of each run, oldest first
        grep -hv ' DEBUG: ' $(ls -tr "$T/$f".log*) |
            grep -E 'release|adopt|aggregator|not planning|reserve|fail' |
            tail -n 12 >&2
    done
    if [ -n "${CHAOS_KEEP:-}" ]; then   # every log, for a post-mortem
        mkdir -p "$CHAOS_KEEP" && cp -r "$T"/. "$CHAOS_KEEP"/ &&
            echo "logs kept in $CHAOS_KEEP" >&2
    fi
}
vr_on_cleanup chaos_failed
vr_on_cleanup '"$BED" down --prefix "$P" >/dev/null 2>&1'
vr_on_cleanup chaos_stop_bsp
vr_on_cleanup chaos_kill_hangs

# rnd N: a number in [0, N) in R, from the seeded sequence (never call it
# in a subshell: the sequence would not move on).
rnd() { R=$((RANDOM % $1)); }
ms_sleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# forget PID: drops PID from the processes cleanup ends, once reaped (its
# number may then be anybody's).
forget() {
    local i
    for i in "${!VR_PIDS[@]}"; do
        [ "${VR_PIDS[$i]}" != "$1" ] || unset "VR_PIDS[$i]"
    done
    VR_PIDS=("${VR_PIDS[@]}")
}

# chaos_kill_hangs: oclient stand-ins left hanging by a killed adapter
# (they record their PIDs), ended by PID if still theirs.
chaos_kill_hangs() {
    local f="$T/odin.state.hang-pids" pid
    [ -e "$f" ] || return 0
    for pid in $(cat "$f"); do
        grep -qsE "oclient|sleep" "/proc/$pid/cmdline" && kill -KILL "$pid" 2>/dev/null
    done
    return 0
}

ctl() { "$BIN/vnetctl" -c "$T/ctl.yaml" "$@"; }
agent_ctl() { local i=$1; shift; "$BIN/vnetctl" -c "$T/ctl-h$i.yaml" "$@"; }

chaos_configs() {
    local i
    vr_overlay_keys h1 h2 h3 h4 h5
    for i in 1 2 3 4 5; do
        {
            echo "id: h$i"
            [ "$i" != 5 ] && echo "proxy_addr: 10.200.0.5:7000"
            echo "bus: {control: '$(ep agent-h$i)', aggregator: '$(ep ingest)'}"
            echo "overlay: {listen: '0.0.0.0:7000', host_ip: 10.200.0.$i, $(vr_overlay_yaml h$i)${NSI_KIND:+, circuit_nic: ckt0, circuit_kind: $NSI_KIND}}"
            echo "ports: [vm1, vm2]"
            echo "period_ms: 100"
            echo "hello_ms: 300"
        } >"$T/agent-h$i.yaml"
        echo "agent: $(ep agent-h$i)" >"$T/ctl-h$i.yaml"
    done
    cat >"$T/aggregator.yaml" <<YAML
bus: {control: '$(ep agg)', events: '$(ep agg-events)', ingest: '$(ep ingest)'}
YAML
    if [ "$CHAOS_BACKEND" = oclient ]; then
        export OCLIENT_STATE=$T/odin.state OCLIENT_CONTROL=$T/odin.modes \
            OCLIENT_LOG=$T/odin.log OCLIENT_DELAY=3 OCLIENT_HANG_S=20
        : >"$OCLIENT_CONTROL"
        vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'backend: oclient' \
            "oclient:
  path: $VR_SRC_DIR/tests/tools/oclient
  flags: [-b, \"100\"]
  create_timeout_ms: 1500
  teardown_timeout_ms: 1500" 'teardown_retries: 100'
    elif [ "$CHAOS_BACKEND" = nsi ]; then
        vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'backend: nsi' \
            "$(chaos_nsi_section)"
    else
        vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'backend: netns' \
            "sim: {time_scale: 0.05}" "netns:
  hosts:
$(for i in 1 2 3 4; do echo "    - {ip: 10.200.0.$i, netns: $P-h$i}"; done)"
    fi
    vr_broker_yaml "$T/broker.db" 'reconcile_ms: 500' "networks:
  - name: lab
    endpoints:
$(for i in 1 2 3 4; do echo "      - {host: h$i, ip: 10.200.0.$i}"; done)"
    vr_planner_yaml "$T/planner.yaml" 't_up_ms: 500' 't_down_ms: 3000' \
        'max_adds: 64' 'bandwidth_mbps: 100'
    cat >"$T/ctl.yaml" <<YAML
aggregator: $(ep agg)
planner: $(ep planner)
broker: $(ep broker)
adapter: $(ep adapter)
timeout_ms: 2000
YAML
}

# chaos_start NAME: starts service NAME (a role, or agent-hI).
chaos_start() {
    case $1 in
    provider) chaos_nsi_restart "$2" ;;
    agent-h*)
        vr_start "$1" ip netns exec "$P-${1#agent-}" "$BIN/vnet-agent" \
            -c "$T/$1.yaml" ;;
    planner) vr_start planner "$BIN/vadapt-planner" -v -c "$T/planner.yaml" ;;
    *) vr_start "$1" "$BIN/${VR_BINARY[$1]}" -c "$T/$1.yaml" ;;
    esac
}
# answers NAME: whether NAME answers its status request.
answers() {
    case $1 in
    agent-h*) agent_ctl "${1#agent-h}" -t 1000 status agent ;;
    provider) chaos_nsi_answers ;;
    *) ctl -t 1000 status "$1" ;;
    esac
}

chaos_up() {
    local n circuits=()
    [ "$CHAOS_BACKEND" != nsi ] || circuits=(--circuits --vlans 1780-1789)
    "$BED" up --prefix "$P" --hosts 5 --vms 2 --rate 20mbit "${circuits[@]}" >/dev/null
    if [ "$CHAOS_BACKEND" = nsi ]; then
        chaos_nsi_kind
        chaos_nsi_up
    fi
    chaos_configs
    for n in agent-h1 agent-h2 agent-h3 agent-h4 agent-h5 aggregator adapter \
        broker planner; do
        chaos_start "$n"
    done
    for n in "${VICTIMS[@]}"; do
        vr_until 15 answers "$n" || fail "$n not up"
    done
    for n in 1 2 3 4; do
        vr_until 10 ip netns exec "$P-h${n}v1" ping -c 1 -W 0.3 -q 10.201.5.1 \
            || fail "no star from h$n"
    done
    echo "bed $P up, backend $CHAOS_BACKEND, seed $CHAOS_SEED"
}

# BSP: rank r on host r/2+1, VM r%2+1; one pattern a phase.  A stall
# bound of 600 s, not vr-bsp's 30: a frame sent while an agent on its way
# (either end's, or the proxy) is down is lost, and TCP waits twice as
# long before each new try.  Kills every 1-4 s of the agents a flow
# crosses can lose try after try, the wait growing to 16 s and more; that
# is TCP's, and the flow goes on once the kills stop, but a job that
# gives up after 30 s without progress broke there (seen: the 16-s try
# went through 1.7 s after the other ranks had given up).  bsp_alive
# still fails on a rank that exits, which is then a connection reset or
# closed, never a wait.
BSP_PIDS=()
PHASE="" PHASE_PAIRS=""
chaos_start_bsp() {
    local pattern=$1 peers="" r
    for r in $(seq 0 7); do
        peers="$peers${peers:+,}10.201.$((r / 2 + 1)).$((r % 2 + 1)):5555"
    done
    for r in $(seq 0 7); do
        ip netns exec "$P-h$((r / 2 + 1))v$((r % 2 + 1))" "$BIN/vr-bsp" \
            --rank "$r" --peers "$peers" --pattern "$pattern" \
            --duration 3600 --msg-size 16K --compute-us 0 \
            --connect-timeout 600 --json \
            >"$T/bsp-$r.json" 2>"$T/bsp-$r.err" &
        BSP_PIDS+=("$!")
        VR_PIDS+=("$!")
    done
    PHASE=$pattern
    # The host pairs its edges cross.
    PHASE_PAIRS=$("$BIN/vr-bsp" --print-edges --n 8 --pattern "$pattern" \
        | awk '{a = int($1 / 2) + 1; b = int($2 / 2) + 1;
                if (a != b) print "h" (a < b ? a : b) "-h" (a < b ? b : a)}' \
        | sort -u | paste -sd,)
}
chaos_stop_bsp() {
    local p
    for p in "${BSP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${BSP_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
        forget "$p"
    done
    BSP_PIDS=()
}
# bsp_alive: fails if a rank of the phase has exited (the job broke).
bsp_alive() {
    local p
    for p in "${BSP_PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null || {
            cat "$T"/bsp-*.err >&2
            fail "a BSP rank of phase $PHASE exited"
        }
    done
}

# chaos_snapshot DIR: the state chaos_check.py reads.
chaos_snapshot() {
    local d=$1 i
    rm -rf "$d"
    mkdir -p "$d"
    ctl --json reserve list --all >"$d/broker.json" \
        || { echo "no list from the broker" >"$T/agree.txt"; return 1; }
    "$BIN/vr-call" "$(ep adapter)" adapter PATH_LIST_REQUEST >"$d/paths.txt" \
        || { echo "no path list from the adapter" >"$T/agree.txt"; return 1; }
    "$BIN/vr-call" "$(ep planner)" planner PLAN_QUERY >"$d/plan.txt" \
        || { echo "no plan from the planner" >"$T/agree.txt"; return 1; }
    ctl --json status planner >"$d/planner.json" \
        || { echo "no status from the planner" >"$T/agree.txt"; return 1; }
    if [ "$CHAOS_BACKEND" = oclient ]; then
        cp "$T/odin.state" "$d/odin.state" 2>/dev/null || : >"$d/odin.state"
    elif [ "$CHAOS_BACKEND" = nsi ]; then
        chaos_nsi_snapshot "$d" || return 1
    else
        # A host with no path has no vrp device: not a failure (every
        # pair of a phase may be on the commodity network).
        for i in 1 2 3 4; do
            ip -n "$P-h$i" -o link show | { grep -o ': vrp[0-9]*@' || true; } \
                | sed "s/^: /h$i /; s/@\$//"
        done >"$d/devs.txt"
    fi
}

# check_dups: no pair reserved twice (the broker may be the one down).
check_dups() {
    ctl --json reserve list --all >"$T/dups.json" 2>/dev/null || return 0
    python3 "$CHECK" dups "$T/dups.json" || fail "duplicate reservation"
    N_CHECKS=$((N_CHECKS + 1))
}

# star_back I T0: a VM of host I (of host 1 for the proxy, h5) reaches h5's
# VM over the star within 2 s of T0 (ms).  Still failing at 1.2 s and at
# 2 s, both agents' counters are taken, for the post-mortem: in the
# background, as a status call to an agent that just restarted can take
# its whole 1 s timeout, and the time to the star must not include it.
star_back() {
    local i=$1 t0=$2 from ms snaps=0
    local -a snap_pids=()
    from=$i
    [ "$i" != 5 ] || from=1
    until ip netns exec "$P-h${from}v1" ping -c 1 -W 0.2 -q 10.201.5.1 \
        >/dev/null 2>&1; do
        ms=$(($(now_ms) - t0))
        if [ "$snaps" = 0 ] && [ "$ms" -ge 1200 ] ||
            { [ "$snaps" = 1 ] && [ "$ms" -ge 2000 ]; }; then
            star_counters "$from" "$T/star-$snaps" &
            snap_pids+=("$!")
            snaps=$((snaps + 1))
        fi
        [ "$ms" -lt 4000 ] || break
    done
    ms=$(($(now_ms) - t0))
    [ "${#snap_pids[@]}" = 0 ] || wait "${snap_pids[@]}" 2>/dev/null || true
    echo "  star back ${ms} ms after agent h$i restarted" >>"$T/kills.log"
    [ "$ms" -gt "$STAR_MAX_MS" ] && STAR_MAX_MS=$ms
    N_STAR=$((N_STAR + 1))
    [ "$ms" -le 2000 ] || star_postmortem "$from" "$i" "$ms"
}

# star_counters FROM PREFIX: agent h<FROM>'s and the proxy's counters, as
# PREFIX.h<N>.json.
star_counters() {
    local h
    for h in "$1" 5; do
        agent_ctl "$h" -t 1000 --json status agent >"$2.h$h.json" 2>&1 || true
    done
}

# star_postmortem FROM I MS: the star did not come back for h<FROM>v1
# within 2 s of agent h<I>'s restart: what moved in both agents' counters
# while it failed (from 1.2 to 2 s), what the two VMs and agents see, and
# whether it comes back later at all; then fails.
star_postmortem() {
    local from=$1 i=$2 ms=$3 h later=never t1
    {
        echo "--- star down for h${from}v1: post-mortem"
        for h in "$from" 5; do
            echo "--- agent h$h: counters that moved from 1.2 s to 2 s, then all"
            python3 - "$T/star-0.h$h.json" "$T/star-1.h$h.json" <<'PY' 2>&1
import json, sys
def counters(path):
    try:
        return json.load(open(path))["services"][0]["counters"]
    except (OSError, ValueError, KeyError, IndexError):
        return {}
a, b = counters(sys.argv[1]), counters(sys.argv[2])
print("moved:", " ".join(f"{k}+{b[k] - a.get(k, 0)}" for k in sorted(b)
                         if isinstance(b[k], int) and b[k] != a.get(k, 0)))
print("all:", " ".join(f"{k}={v}" for k, v in sorted(b.items()) if v))
PY
            echo "--- agent h$h: rules and links"
            agent_ctl "$h" rules 2>&1 | head -n 20
            agent_ctl "$h" links 2>&1 | head -n 12
        done
        for h in "$from" 5; do
            echo "--- h${h}v1: neighbours"
            ip -n "$P-h${h}v1" neigh show
        done
        for h in vm1 vm2; do
            echo "--- h$from $h: tc ingress filters"
            tc -n "$P-h$from" filter show dev "$h" ingress 2>&1 |
                grep -E 'dst_mac|mirred' | head -n 20
        done
    } >"$T/star-postmortem.txt" 2>&1
    t1=$(now_ms)
    while [ $(($(now_ms) - t1)) -lt 10000 ]; do
        if ip netns exec "$P-h${from}v1" ping -c 1 -W 0.2 -q 10.201.5.1 \
            >/dev/null 2>&1; then
            later="$(($(now_ms) - t1 + ms)) ms after the restart"
            break
        fi
    done
    echo "  the star came back: $later" >>"$T/star-postmortem.txt"
    cat "$T/star-postmortem.txt" >&2
    fail "agent h$i: star not back within 2 s ($ms ms; back: $later)"
}

# chaos_kill [NAME...]: waits a random 0-1 s, kills one of the NAMEs (all
# victims by default) with -9, restarts it after a random 0-3 s, waits
# until it answers, checks.
chaos_kill() {
    local -a from=("${@:-${VICTIMS[@]}}")
    local name pid down t0
    rnd 1000; ms_sleep "$R"
    rnd "${#from[@]}"; name=${from[$R]}
    rnd 3001; down=$R
    if [ "$name" = provider ]; then
        N_KILLS=$((N_KILLS + 1))
        KILLED[$name]=$((${KILLED[$name]:-0} + 1))
        echo "kill $N_KILLS: provider, phase $PHASE" >>"$T/kills.log"
        chaos_start provider "$down"
        check_dups
        return
    fi
    pid=$(cat "$T/$name.pid")
    kill -0 "$pid" 2>/dev/null || fail "$name (pid $pid) died by itself: $(tail -n 5 "$T/$name.log")"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    forget "$pid"
    N_KILLS=$((N_KILLS + 1))
    KILLED[$name]=$((${KILLED[$name]:-0} + 1))
    echo "kill $N_KILLS: $name (pid $pid), phase $PHASE, down $down ms" >>"$T/kills.log"
    mv "$T/$name.log" "$T/$name.log.$N_KILLS"
    ms_sleep "$down"
    chaos_start "$name"
    t0=$(now_ms)
    case $name in
    agent-h*) star_back "${name#agent-h}" "$t0" ;;
    esac
    vr_until 15 answers "$name" || fail "$name did not come back"
    check_dups
}

# chaos_diag: for a post-mortem: whether each pair of the phase reaches
# the other, and what the aggregator sees.
chaos_diag() {
    local pr a b
    for pr in ${PHASE_PAIRS//,/ }; do
        a=${pr%-*}; b=${pr#*-}
        echo "ping ${a}v1 -> ${b}v1: $(ip netns exec "$P-${a}v1" ping -c 3 -i 0.2 -W 0.5 -q \
            "10.201.${b#h}.1" 2>&1 | grep -o '[0-9]*% packet loss')"
    done
    ctl topology 2>&1 | head -n 12
}

# chaos_settle: until the loop agrees on the phase's pairs
# (CHAOS_SETTLE_S at most after the last restart), then the histories.
chaos_settle() {
    local t0 ok="" ms n=0
    t0=$(now_ms)
    : >"$T/agree.txt"
    while [ $(($(now_ms) - t0)) -lt $((CHAOS_SETTLE_S * 1000)) ]; do
        n=$((n + 1))
        if chaos_snapshot "$T/snap" \
            && python3 "$CHECK" agree "$T/snap" "$PHASE_PAIRS" >"$T/agree.txt" 2>&1; then
            ok=1
            break
        fi
        sleep 0.3
    done
    ms=$(($(now_ms) - t0))
    if [ -z "$ok" ]; then
        echo "the last of $n checks in $ms ms:" >&2
        cat "$T/agree.txt" >&2
        chaos_diag >&2
        fail "phase $PHASE ($PHASE_PAIRS): not settled ${CHAOS_SETTLE_S} s after the last restart"
    fi
    [ "$ms" -gt "$SETTLE_MAX_MS" ] && SETTLE_MAX_MS=$ms
    N_CHECKS=$((N_CHECKS + 1))
    echo "  phase $PHASE settled in $ms ms: $(cat "$T/agree.txt")" | tee -a "$T/kills.log"
    chaos_histories
}

# chaos_histories: every reservation's history is legal.
chaos_histories() {
    local id
    rm -rf "$T/hist"
    mkdir -p "$T/hist"
    for id in $(jq -r '.[].id' "$T/snap/broker.json"); do
        ctl --json reserve show "$id" >"$T/hist/$id.json" || fail "show $id"
    done
    python3 "$CHECK" history "$T" >"$T/hist.txt" || fail "illegal history"
    N_CHECKS=$((N_CHECKS + 1))
}

# chaos_ping: ping -i 0.01 between two VMs over one of the phase's
# reserved paths, while only control services are killed; nothing lost.
chaos_ping() {
    local pr a b pid n pairs
    # The pairs on reserved paths (all the phase's if none is).
    pairs=$(jq -r '[.[] | select(.state == "active") | [.host_a, .host_b]
        | sort | join("-")] | join(",")' "$T/snap/broker.json")
    [ -n "$pairs" ] || pairs=$PHASE_PAIRS
    rnd 100
    pr=$(echo "$pairs" | tr , '\n' | sed -n "$((R % $(echo "$pairs" | tr , '\n' | wc -l) + 1))p")
    a=${pr%-*}; b=${pr#*-}
    # 3 kills take 10 s at most (1 + 3 + the restart, each): the ping
    # outlasts them, and the choices stay the seed's alone.
    ip netns exec "$P-${a}v2" ping -i 0.01 -c 1200 -q "10.201.${b#h}.1" \
        >"$T/ping.txt" 2>&1 &
    pid=$!
    VR_PIDS+=("$pid")
    for n in 1 2 3; do
        chaos_kill "${CONTROL[@]}"
    done
    kill -0 "$pid" 2>/dev/null || echo "  (the ping ended before the 3rd restart)" >>"$T/kills.log"
    wait "$pid" || true
    forget "$pid"
    N_PINGS=$((N_PINGS + 1))
    echo "  ping ${a}v2 -> ${b}v1 over $pr with $n control kills: $(grep -o '[0-9]* packets transmitted.*loss' "$T/ping.txt")" \
        | tee -a "$T/kills.log"
    grep -q " 0% packet loss" "$T/ping.txt" \
        || fail "ping over $pr lost frames while only control services died"
}

# chaos_oclient_modes: what the next oclient runs do, at random: mostly
# ok, else hang, crash (dies mid-call), fail or slow.
chaos_oclient_modes() {
    local modes=(ok ok ok ok hang crash fail slow) i
    [ "$CHAOS_BACKEND" = oclient ] || return 0
    for i in 1 2 3 4; do
        rnd "${#modes[@]}"
        echo "${modes[$R]}" >>"$OCLIENT_CONTROL"
        echo "${modes[$R]}" >>"$T/modes.log"
    done
}
# chaos_oclient_calm: the oclient runs from now on behave; the modes
# injected and not yet taken are dropped (and not counted).
chaos_oclient_calm() {
    [ "$CHAOS_BACKEND" = oclient ] || return 0
    local left
    left=$(wc -l <"$OCLIENT_CONTROL")
    : >"$OCLIENT_CONTROL"
    head -n "-$left" "$T/modes.log" >"$T/modes.tmp"
    mv "$T/modes.tmp" "$T/modes.log"
}

# chaos_run: phases until CHAOS_KILLS kills are done.
chaos_run() {
    local k per at=0
    per=$(( CHAOS_KILLS < 40 ? 7 : 10 ))     # then 3 in chaos_ping
    while [ "$N_KILLS" -lt "$CHAOS_KILLS" ]; do
        # (nsi) The provider's turn in the phase: not the first kill, so
        # that paths are up or being set up when it goes.
        [ "$CHAOS_BACKEND" != nsi ] || { rnd $((per - 1)); at=$((R + 2)); }
        rnd "${#PATTERNS[@]}"
        [ "${PATTERNS[$R]}" != "$PHASE" ] || R=$(((R + 1) % ${#PATTERNS[@]}))
        chaos_stop_bsp
        chaos_start_bsp "${PATTERNS[$R]}"
        echo "== phase $PHASE ($PHASE_PAIRS), kills so far $N_KILLS" | tee -a "$T/kills.log"
        for k in $(seq "$per"); do
            chaos_oclient_modes
            if [ "$k" = "$at" ]; then
                chaos_kill provider     # at least once a phase
            else
                chaos_kill
            fi
        done
        chaos_oclient_calm
        bsp_alive
        chaos_settle
        chaos_ping
        chaos_settle
        bsp_alive
    done
    chaos_stop_bsp
}

chaos_report() {
    local n
    echo "kills: $N_KILLS ($(for n in "${VICTIMS[@]}"; do printf '%s %s, ' "$n" "${KILLED[$n]:-0}"; done | sed 's/, $//'))"
    echo "invariant checks: $N_CHECKS passed; ping windows $N_PINGS, 0 lost;" \
        "star back after $N_STAR agent restarts, slowest $STAR_MAX_MS ms;" \
        "slowest settling $SETTLE_MAX_MS ms"
    echo "reservations made: $(jq length "$T/snap/broker.json"), $(head -n 1 "$T/hist.txt")"
    tail -n +2 "$T/hist.txt"
    if [ "$CHAOS_BACKEND" = oclient ]; then
        echo "oclient runs: $(wc -l <"$OCLIENT_LOG"); faults taken:" \
            "$(sort "$T/modes.log" | uniq -c | awk '$2 != "ok" {printf "%s %s, ", $2, $1}' | sed 's/, $//')"
    fi
    echo "seed $CHAOS_SEED"
}
