#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The steps of one adaptation, from vrloop.sh's watch logs.

Usage: loop-steps.py DIR T0_US T1_US first|last

Reads DIR/watch-topology.json and DIR/watch-decisions.json (vnetctl --json
watch, one event a line), keeps the events in [T0, T1) and prints, in
seconds: inference (T0 to the first topology event with edges), planning
(to the planner's first RESERVE, T_up included), reservation (to the
first or last link made over a path), switch (from that link to the first
or last rules moved after it), total (T0 to that switch), and the switch's
time since T0 again.  A step that did not happen prints "-"."""
import json
import sys


def events(path, t0, t1):
    out = []
    with open(path) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if t0 <= e.get("time_us", 0) < t1:
                out.append(e)
    return out


def main():
    d, t0, t1, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    pick = min if mode == "first" else max
    topo = [e["time_us"] for e in events(f"{d}/watch-topology.json", t0, t1)
            if e["body"].get("topology", {}).get("edges")]
    dec = [e["body"]["decision"]
           for e in events(f"{d}/watch-decisions.json", t0, t1)]

    def when(kind, how):
        ts = [x["time_us"] for x in dec if x.get("kind") == kind]
        return how(ts) if ts else None

    inf = min(topo) if topo else None
    res = when("reserve", min)
    lnk = when("link_create", pick)
    # The switch that moved rules onto that link: never one before it (a
    # link made again for a later reservation would otherwise give a
    # negative step).
    sws = [x["time_us"] for x in dec
           if x.get("kind") == "switch" and lnk and x["time_us"] >= lnk]
    sw = pick(sws) if sws else None

    def s(a, b, fmt="%.2f"):
        return fmt % ((b - a) / 1e6) if a and b else "-"

    print(s(t0, inf), s(inf, res), s(res, lnk), s(lnk, sw, "%.3f"),
          s(t0, sw), s(t0, sw))


if __name__ == "__main__":
    main()
