#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The chaos tests' invariants (tests/integration/chaos_bed.sh), over a
snapshot of the loop's state taken with vnetctl, vr-call and ip:

  chaos_check.py dups BROKER_JSON
      no host pair has two reservations that want a path (requested,
      provisioning or active): none duplicated.
  chaos_check.py agree DIR PAIRS
      the loop has settled on PAIRS ("h1-h2,h2-h3"): the planner holds an
      up link for each pair and nothing else, over an ACTIVE reservation
      or, where that failed, the commodity network; the broker's open
      reservations are exactly those links'; the adapter's live
      paths are exactly their paths, all up; (netns) the vrp devices in
      the host namespaces are exactly those paths' devices; (oclient)
      ODIN holds exactly those paths' ODIN ids, but for paths the adapter
      recorded as lost in a restart while 'oclient -c' ran (the
      documented limit), counted apart; (nsi) the provider's live
      connections of ours are exactly the up paths' connections: none
      leaked at the provider, none lost.
  chaos_check.py history DIR
      each DIR/hist/<id>.json (vnetctl --json reserve show) is a legal
      state sequence ending in the reservation's state, and none went
      from ACTIVE to FAILED (a path lost); counts why the failed ones
      failed.

DIR holds broker.json (vnetctl --json reserve list --all), paths.txt
(vr-call ... PATH_LIST_REQUEST), plan.txt (vr-call ... PLAN_QUERY),
planner.json (vnetctl --json status planner), and devs.txt ("NS DEV" lines),
odin.state (the oclient stand-in's state) or nsi.txt (vr-nsi-cli query: the
provider's connections of our requester).  Prints what it found; exits 1
with every violation on stderr."""
import json
import os
import re
import sys

OPEN = ("requested", "provisioning", "active", "releasing")
WANTS = ("requested", "provisioning", "active")
FINAL = ("released", "failed")
LEGAL = {
    "requested": {"provisioning", "released", "failed"},
    "provisioning": {"active", "releasing", "failed"},
    "active": {"releasing", "failed"},
    "releasing": {"released", "failed"},
    "released": set(),
    "failed": set(),
}
# Why an oclient path's 'oclient -c' was lost with the adapter (the
# adapter's wording, adapter_svc.c).
LOST_IN_RESTART = "while 'oclient -c' ran"


def pair(a, b):
    return "-".join(sorted((a, b)))


def host_of_ip(ip):
    # 10.200.0.N is host hN on the bed.
    m = re.fullmatch(r"10\.200\.0\.(\d+)", ip)
    return "h" + m.group(1) if m else ip


def load_list(fname, reply, field):
    """vr-call's 'FIELD[i].name=value' words of a REPLY, as a list of
    dicts."""
    text = open(fname).read().strip()
    if not text.startswith("REPLY " + reply):
        raise SystemExit(f"no {reply}: " + text[:200])
    items = {}
    parts = re.split(r" " + field + r"\[(\d+)\]\.(\w+)=", text)
    for i in range(1, len(parts) - 2, 3):
        items.setdefault(int(parts[i]), {})[parts[i + 1]] = parts[i + 2]
    return [items[k] for k in sorted(items)]


def pstate(p):
    return p.get("state", "").replace("PATH_STATE_", "").lower()


def dups(resvs):
    errs = []
    by_pair = {}
    for r in resvs:
        if r["state"] in WANTS:
            by_pair.setdefault(pair(r["host_a"], r["host_b"]), []).append(r["id"])
    for p, ids in sorted(by_pair.items()):
        if len(ids) > 1:
            errs.append(f"pair {p} reserved {len(ids)} times: {' '.join(ids)}")
    return errs


def agree(d, want):
    errs = []
    resvs = json.load(open(os.path.join(d, "broker.json")))
    paths = load_list(os.path.join(d, "paths.txt"), "PATH_LIST", "paths")
    plan = load_list(os.path.join(d, "plan.txt"), "PLAN", "links")
    counters = json.load(open(os.path.join(d, "planner.json")))
    counters = counters["services"][0]["counters"]
    errs += dups(resvs)
    opened = [r for r in resvs if r["state"] in OPEN]
    for r in opened:
        if r["state"] != "active":
            errs.append(f"{r['id']} {r['host_a']}-{r['host_b']} still {r['state']}")
    have = sorted(pair(r["host_a"], r["host_b"]) for r in opened)
    # The planner holds one link a pair the phase needs, each up: over its
    # reservation, or over the commodity network where the reservation
    # failed (services/vadapt-planner/README.md, "Commodity fallback").
    planned = sorted(pair(l["host_a"], l["host_b"]) for l in plan)
    if planned != sorted(want):
        errs.append(f"planner holds {' '.join(planned) or 'nothing'}, "
                    f"the phase needs {' '.join(sorted(want)) or 'nothing'}")
    for k, v in (("links_up", len(want)), ("links_reserving", 0),
                 ("links_setting_up", 0)):
        if counters.get(k) != v:
            errs.append(f"planner {k} {counters.get(k)}, not {v}")
    reserved = {l.get("resv_id", ""): l for l in plan
                if l.get("kind") == "PLANNED_LINK_RESERVED"}
    fallback = [pair(l["host_a"], l["host_b"]) for l in plan
                if l.get("kind") == "PLANNED_LINK_COMMODITY"]
    for l in plan:
        if l.get("kind") not in ("PLANNED_LINK_RESERVED",
                                 "PLANNED_LINK_COMMODITY"):
            errs.append(f"planner link {l.get('link')} still {l.get('kind')}")
    for r in opened:
        if r["id"] not in reserved:
            errs.append(f"{r['id']} {r['host_a']}-{r['host_b']} open, no "
                        f"planner link stands behind it")
    for rid, l in sorted(reserved.items()):
        if rid not in {r["id"] for r in opened}:
            errs.append(f"planner link {l.get('link')} on {rid}, which the "
                        f"broker does not hold open")
    live = [p for p in paths if pstate(p) in ("provisioning", "up", "tearing_down")]
    resv_paths = {r["path_id"]: r for r in opened}
    live_ids = {p["path_id"] for p in live}
    for p in live:
        if p["path_id"] not in resv_paths:
            errs.append(f"leaked: adapter path {p['path_id']} "
                        f"{host_of_ip(p['src_ip'])}-{host_of_ip(p['dst_ip'])} "
                        f"{pstate(p)} has no open reservation")
        elif pstate(p) != "up":
            errs.append(f"adapter path {p['path_id']} still {pstate(p)}")
        else:
            r = resv_paths[p["path_id"]]
            if pair(host_of_ip(p["src_ip"]), host_of_ip(p["dst_ip"])) != \
                    pair(r["host_a"], r["host_b"]):
                errs.append(f"path {p['path_id']} joins other hosts than {r['id']}")
    for pid, r in sorted(resv_paths.items()):
        if pid not in live_ids:
            errs.append(f"lost: {r['id']} {r['host_a']}-{r['host_b']} "
                        f"{r['state']} on path '{pid}' the adapter does not hold")
    up = [p for p in live if pstate(p) == "up"]
    devs_f = os.path.join(d, "devs.txt")
    odin_f = os.path.join(d, "odin.state")
    nsi_f = os.path.join(d, "nsi.txt")
    extra = ""
    if os.path.exists(devs_f):
        got = sorted(open(devs_f).read().split("\n"))
        got = [g for g in got if g]
        exp = []
        for p in up:
            m = re.search(r"dev=(\S+)", p.get("detail", ""))
            dev = m.group(1) if m else "?"
            for ip in (p["src_ip"], p["dst_ip"]):
                exp.append(f"{host_of_ip(ip)} {dev}")
        if got != sorted(exp):
            errs.append(f"devices {got} != the up paths' {sorted(exp)}")
        extra = f", {len(got)} vrp devices"
    elif os.path.exists(odin_f):
        odin = sorted(l.split()[1] for l in open(odin_f)
                      if l.startswith("path "))
        refs = sorted(p.get("backend_ref", "") for p in up)
        # The adapter lists live paths only: the broker's reservations
        # carry the reason their path failed.
        lost = [r for r in resvs if r["state"] == "failed"
                and LOST_IN_RESTART in r.get("error", "")]
        missing = [x for x in refs if x not in odin]
        orphans = [x for x in odin if x not in refs]
        if missing:
            errs.append(f"lost: up paths' ODIN ids {missing} not in ODIN")
        if len(orphans) > len(lost):
            errs.append(f"leaked: ODIN holds {orphans}, no adapter path "
                        f"owns them ({len(lost)} lost in restarts)")
        extra = f", ODIN {len(odin)} paths ({len(orphans)} orphaned by " \
            f"adapter kills mid-call, the documented limit)"
    elif os.path.exists(nsi_f):
        conns = [l.split() for l in open(nsi_f) if l.startswith("connection ")]
        # Live: anything not Terminated with its data plane down, but for
        # what the provider leaves Terminating after the adapter terminated
        # it again (nsi_stuck in nsi_lib.sh: it holds nothing there).
        stuck_f = os.path.join(d, "nsi_stuck.txt")
        stuck = set(open(stuck_f).read().split()) \
            if os.path.exists(stuck_f) else set()
        left = sorted(c[1] for c in conns if c[1] in stuck
                      and c[-2].endswith("/Terminating")
                      and c[-1] == "active=false")
        live_c = sorted(c[1] for c in conns
                        if not (c[-2].endswith("/Terminated")
                                and c[-1] == "active=false")
                        and c[1] not in left)
        refs = sorted(p.get("backend_ref", "").split(" ")[0] for p in up)
        missing = [x for x in refs if x not in live_c]
        leaked = [x for x in live_c if x not in refs]
        if missing:
            errs.append(f"lost: up paths' connections {missing} not live at "
                        f"the provider")
        if leaked:
            states = {c[1]: " ".join(c[-2:]) for c in conns}
            errs.append(f"leaked: the provider holds "
                        f"{[x + ' ' + states[x] for x in leaked]} live, "
                        f"no up path owns them")
        extra = f", provider {len(live_c)} live of {len(conns)} connections" \
            + (f" ({len(left)} left Terminating by it: {' '.join(left)})"
               if left else "")
    print(f"broker {len(opened)} open ({' '.join(have)}), adapter "
          f"{len(live)} live{extra}; planner on commodity fallback: "
          f"{' '.join(fallback) or 'none'}")
    return errs


def history(d):
    errs = []
    hd = os.path.join(d, "hist")
    n = 0
    failed = {}
    for f in sorted(os.listdir(hd)):
        r = json.load(open(os.path.join(hd, f)))
        seq = [h["to"] for h in r["history"]]
        n += 1
        if not seq or seq[0] != "requested":
            errs.append(f"{r['id']}: history starts {seq[:1]}, not requested")
            continue
        for a, b in zip(seq, seq[1:]):
            if b not in LEGAL.get(a, set()):
                errs.append(f"{r['id']}: illegal {a} -> {b} in {seq}")
        if seq[-1] != r["state"]:
            errs.append(f"{r['id']}: state {r['state']}, history ends {seq[-1]}")
        # A path once up survives the restart of any service: an ACTIVE
        # reservation is never FAILED by the chaos.
        for a, b, h in zip(seq, seq[1:], r["history"][1:]):
            if a == "active" and b == "failed":
                errs.append(f"{r['id']}: lost while active: {h['reason']}")
        if seq[-1] == "failed":
            why = re.sub(r"\b[pr]-\d+\b", "#", r["history"][-1]["reason"])
            why = re.sub(r"\d+", "N", why)[:90]
            failed[why] = failed.get(why, 0) + 1
    print(f"{n} histories checked")
    for why, k in sorted(failed.items()):
        print(f"  failed x{k}: {why}")
    return errs


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "dups":
        errs = dups(json.load(open(sys.argv[2])))
    elif len(sys.argv) == 4 and sys.argv[1] == "agree":
        errs = agree(sys.argv[2], [p for p in sys.argv[3].split(",") if p])
    elif len(sys.argv) == 3 and sys.argv[1] == "history":
        errs = history(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for e in errs:
        print("violation: " + e, file=sys.stderr)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
