#!/bin/bash
# SPDX-License-Identifier: MIT
# deploy/config/*.yaml list every key with its default: they match each
# program's --help-config, and each service accepts its file (--check).
# A mistyped key, a bad value and broken YAML give file:line:col and exit 2.
source "$(dirname "$0")/lib.sh"

CONF="$VR_SRC_DIR/deploy/config"
for p in vnet-agent vttif-aggregator vadapt-planner vreserve-broker \
         odin-adapter vnetctl; do
    tail -n +4 "$CONF/$p.yaml" | diff -u - <("$BIN/$p" --help-config) \
        || fail "$CONF/$p.yaml is out of step with $p --help-config"
done
for p in vnet-agent vttif-aggregator vadapt-planner vreserve-broker \
         odin-adapter; do
    "$BIN/$p" -c "$CONF/$p.yaml" --check >/dev/null \
        || fail "$p rejects its own deploy config"

    printf 'bus:\n  contrl: "tcp://127.0.0.1:1"\n' >"$T/typo.yaml"
    rc=0
    "$BIN/$p" -c "$T/typo.yaml" --check 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] || fail "$p: typo gave exit $rc"
    grep -q "typo.yaml:2:3: unknown key 'bus.contrl'" "$T/err" \
        || fail "$p: typo message: $(cat "$T/err")"

    printf 'log:\n  level: [1, 2]\n' >"$T/kind.yaml"
    rc=0
    "$BIN/$p" -c "$T/kind.yaml" --check 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] || fail "$p: wrong kind gave exit $rc"
    grep -q "kind.yaml:2:10:" "$T/err" || fail "$p: kind message: $(cat "$T/err")"

    printf 'bus:\n  control: "x\n' >"$T/broken.yaml"
    rc=0
    "$BIN/$p" -c "$T/broken.yaml" --check 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] || fail "$p: broken YAML gave exit $rc"
    grep -q "broken.yaml:[0-9]*:[0-9]*: syntax error" "$T/err" \
        || fail "$p: syntax message: $(cat "$T/err")"
done
# refused PROGRAM YAML PATTERN WHAT: PROGRAM --check refuses the config
# YAML (printf format) with exit 2 and a message matching PATTERN.
refused() {
    local rc=0
    printf "$2" >"$T/refused.yaml"
    "$BIN/$1" -c "$T/refused.yaml" --check 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] && grep -q -- "$3" "$T/err" \
        || fail "$1 --check on $4: exit $rc, $(cat "$T/err")"
}
# Keys valid alone but not together: --check says what the start would.
refused vttif-aggregator 'vttif:\n  add_frac: 0.2\n  drop_frac: 0.3\n' \
    "drop_frac: '0.3' must be below add_frac" "drop_frac > add_frac"
refused vadapt-planner 'min_demand_mbps: 5\nrelease_mbps: 8\n' \
    "release_bps" "release > min demand"
# The exact b-matching selection: its two keys, checked.
printf 'policy: b-matching\nselection: exact\nexact_max_links: 50\n' >"$T/exact.yaml"
"$BIN/vadapt-planner" -c "$T/exact.yaml" --check >/dev/null \
    || fail "vadapt-planner rejects selection: exact"
refused vadapt-planner 'selection: blossom\n' \
    "selection 'blossom': want greedy or exact" "selection blossom"
refused vadapt-planner 'exact_max_links: 0\n' "exact_max_links" \
    "exact_max_links 0"
# A schedule of known phases: checked whole, the bad entry named.
printf 'schedule:\n  - {start_unix_ms: 1, duration_ms: 5, links: [\x27h1 h2\x27]}\n' \
    >"$T/sched.yaml"
"$BIN/vadapt-planner" -c "$T/sched.yaml" --check >/dev/null \
    || fail "vadapt-planner rejects a good schedule"
refused vadapt-planner 'schedule:\n  - {start_unix_ms: 1, duration_ms: 5, links: [h1]}\n' \
    "schedule\\[0\\].links\\[0\\]: 'h1' is not two distinct host names" \
    "a one-host link"
refused vadapt-planner 'schedule:\n  - {duration_ms: 5, links: [\x27a b\x27]}\n' \
    "start_unix_ms" "an entry without a start"
rc=0
"$BIN/vnetctl" -c "$T/typo.yaml" status 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "unknown key" "$T/err" || fail "vnetctl typo: exit $rc"
echo "1 passed, 0 failed"
