#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: serial
# README's first command, in its short mode, on this build: the demo must
# finish, show a gain for both experiments, write its table, PNG and SVG,
# and leave no namespace, process or path behind.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }
vr_normal_tree_only "the demo runs once"
timeout 170 "$VR_SRC_DIR/deploy/demo.sh" --quick --bin "$BIN" --out "$T/out" \
    >"$T/demo.txt" 2>&1 || { tail -n 40 "$T/demo.txt"; fail "demo failed"; }
sed -n '/== before and after/,/^written/p' "$T/demo.txt"
for f in table.txt throughput.png topology.svg; do
    [ -s "$T/out/$f" ] || fail "no $f"
done
file "$T/out/throughput.png" | grep -q "PNG image" || fail "throughput.png is no PNG"
grep -q "<svg" "$T/out/topology.svg" || fail "topology.svg is no SVG"
python3 - "$T/out/table.txt" <<'PY' || fail "no gain"
import re, sys
rows = [l.split() for l in open(sys.argv[1]) if l.startswith(("iperf3", "BSP"))]
assert len(rows) == 2, rows
for r in rows:
    gain = [x for x in r if x.endswith("x") and x[:-1].replace(".", "").isdigit()]
    assert gain and float(gain[0][:-1]) >= 2, r
print("gains:", [[x for x in r if x.endswith("x")][0] for r in rows])
PY
grep -q "reservation r-1 .*: active" "$T/demo.txt" || fail "no reservation shown going active"
grep -q "planner switch" "$T/demo.txt" || fail "no switch shown"
# Its own bed's namespaces (other tests may run beside it).
bed=$(sed -n 's/^== cleaning up (test bed \([^,]*\),.*/\1/p' "$T/demo.txt")
[ -n "$bed" ] || fail "the demo did not say which test bed it cleaned up"
! ip netns list | grep -q "^$bed-" || fail "namespaces of $bed left behind"
echo "1 passed, 0 failed"
