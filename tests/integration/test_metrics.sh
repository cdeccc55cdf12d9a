#!/bin/bash
# SPDX-License-Identifier: MIT
# Every service serves its status as Prometheus metrics when
# metrics.listen is set: a scrape with curl parses line by line, holds
# every counter `vnetctl status --json` shows with a value between two
# status calls taken around it, and the exact figure of a counter nothing
# moves; a wrong path gets 404, a wrong method 405, and the service lives
# on.  Ports are picked by the services (port 0) and read back from status.
source "$(dirname "$0")/lib.sh"

M="metrics: {listen: '127.0.0.1:0'}"

vr_overlay_keys h1
cat >"$T/agent.yaml" <<YAML
id: h1
bus: {control: '$(ep agent)', aggregator: '$(ep ingest)'}
overlay: {listen: '127.0.0.1:0', $(vr_overlay_yaml h1)}
$M
YAML
vr_aggregator_yaml "$M"
cat >"$T/planner.yaml" <<YAML
bus:
  control: $(ep planner)
  events: $(ep planner-events)
  aggregator_events: $(ep agg-events)
  broker_events: $(ep broker-events)
$M
YAML
vr_broker_yaml "$T/broker.db" "$M"
cat >"$T/adapter.yaml" <<YAML
bus: {control: '$(ep adapter)', events: '$(ep adapter-events)'}
state: $T/adapter.db
$M
YAML
cat >"$T/vnetctl.yaml" <<YAML
agent: $(ep agent)
aggregator: $(ep aggregator)
planner: $(ep planner)
broker: $(ep broker)
adapter: $(ep adapter)
timeout_ms: 2000
YAML
CTL=("$BIN/vnetctl" -c "$T/vnetctl.yaml")

# A bad listen address is a config error (exit 2) naming the key.
printf 'metrics:\n  listen: "127.0.0.1:99999"\n' >"$T/bad.yaml"
rc=0
"$BIN/odin-adapter" -c "$T/bad.yaml" --check 2>"$T/bad.err" || rc=$?
[ "$rc" = 2 ] && grep -q "metrics.listen: '127.0.0.1:99999'" "$T/bad.err" \
    || fail "bad metrics.listen: exit $rc, $(cat "$T/bad.err")"

vr_start_services
vr_until 10 "${CTL[@]}" status || fail "services did not all come up"

for i in 0 1 2 3 4; do
    "${CTL[@]}" --json status >"$T/s1.json"
    role=$(jq -r ".services[$i].role" "$T/s1.json")
    addr=$(jq -r ".services[$i].info.metrics" "$T/s1.json")
    [[ "$addr" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "$role: metrics at '$addr'"
    curl -sS --max-time 5 -D "$T/h.txt" "http://$addr/metrics" >"$T/m.txt" \
        || fail "$role: scrape failed"
    "${CTL[@]}" --json status >"$T/s2.json"
    grep -qi '^content-type: text/plain; version=0.0.4' "$T/h.txt" \
        || fail "$role: content type: $(cat "$T/h.txt")"
    python3 - "$T/m.txt" "$T/s1.json" "$T/s2.json" "$i" <<'PY' \
        || fail "$role: scrape and status disagree"
import json, re, sys
text = open(sys.argv[1]).read()
s1 = json.load(open(sys.argv[2]))["services"][int(sys.argv[4])]
s2 = json.load(open(sys.argv[3]))["services"][int(sys.argv[4])]
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$')
label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
types, values, info = {}, {}, None
for line in text.splitlines():
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split(" ")
        assert name not in types, "family twice: " + name
        assert kind in ("counter", "gauge"), line
        types[name] = kind
        continue
    if line.startswith("#"):
        continue
    m = sample.match(line)
    assert m, "not a sample: " + line
    name, labels, value = m.groups()
    assert name in types, "sample before its TYPE: " + line
    got = dict((k, v) for k, v, _ in label.findall(labels))
    assert got["service"] == s1["service"] and got["id"] == s1["id"], line
    if name == "vreserve_info":
        info = got
    values[name] = float(value)
assert info and info["state"] == s1["state"], info
for k, v in s1["info"].items():
    assert info.get(k) == v, (k, v, info.get(k))
for k, v in s1["counters"].items():
    got = values["vreserve_" + k]
    lo, hi = min(v, s2["counters"][k]), max(v, s2["counters"][k])
    if k == "metrics_requests":
        lo, hi = lo + 1, hi    # this scrape is counted in its own figures
    assert lo <= got <= hi, (k, lo, got, hi)
# Nothing but status moves control_rejected: it must be exactly equal.
assert values["vreserve_control_rejected"] == s1["counters"]["control_rejected"]
# The scrape came between the two status calls.
assert values["vreserve_control_requests"] == s1["counters"]["control_requests"]
print("%-17s %3d families, bus_rx %d, uptime %.1f s" % (
    s1["service"], len(types), values["vreserve_bus_rx"],
    values["vreserve_uptime_seconds"]))
PY
    code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://$addr/nope")
    [ "$code" = 404 ] || fail "$role: /nope gave $code"
    code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST \
        -d x=1 "http://$addr/metrics")
    [ "$code" = 405 ] || fail "$role: POST gave $code"
    # A connection that says nothing, and bytes that are not HTTP.
    timeout 5 bash -c "exec 3<>/dev/tcp/${addr%:*}/${addr#*:}; printf 'xx\x01\r\n\r\n' >&3; cat <&3 >/dev/null" || true
    "${CTL[@]}" --json status >"$T/s3.json" || fail "$role died"
    errs=$(jq ".services[$i].counters.metrics_errors" "$T/s3.json")
    [ "$errs" -ge 2 ] || fail "$role: metrics_errors $errs"
done

vr_stop_services
echo "1 passed, 0 failed"
