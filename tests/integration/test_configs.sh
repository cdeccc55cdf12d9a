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
# Keys valid alone but not together: --check says what the start would.
printf 'vttif:\n  add_frac: 0.2\n  drop_frac: 0.3\n' >"$T/cross.yaml"
rc=0
"$BIN/vttif-aggregator" -c "$T/cross.yaml" --check 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "drop_frac: '0.3' must be below add_frac" "$T/err" \
    || fail "vttif-aggregator --check on drop_frac > add_frac: exit $rc, $(cat "$T/err")"
printf 'min_demand_mbps: 5\nrelease_mbps: 8\n' >"$T/cross.yaml"
rc=0
"$BIN/vadapt-planner" -c "$T/cross.yaml" --check 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "release_bps" "$T/err" \
    || fail "vadapt-planner --check on release > min demand: exit $rc, $(cat "$T/err")"
# The exact b-matching selection: its two keys, checked.
printf 'policy: b-matching\nselection: exact\nexact_max_links: 50\n' >"$T/exact.yaml"
"$BIN/vadapt-planner" -c "$T/exact.yaml" --check >/dev/null \
    || fail "vadapt-planner rejects selection: exact"
printf 'selection: blossom\n' >"$T/exact.yaml"
rc=0
"$BIN/vadapt-planner" -c "$T/exact.yaml" --check 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "selection 'blossom': want greedy or exact" "$T/err" \
    || fail "vadapt-planner --check on selection blossom: exit $rc, $(cat "$T/err")"
printf 'exact_max_links: 0\n' >"$T/exact.yaml"
rc=0
"$BIN/vadapt-planner" -c "$T/exact.yaml" --check 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "exact_max_links" "$T/err" \
    || fail "vadapt-planner --check on exact_max_links 0: exit $rc, $(cat "$T/err")"
rc=0
"$BIN/vnetctl" -c "$T/typo.yaml" status 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "unknown key" "$T/err" || fail "vnetctl typo: exit $rc"
echo "1 passed, 0 failed"
