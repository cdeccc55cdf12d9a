# SPDX-License-Identifier: MIT
# The NSI provider under the chaos (sourced by chaos_bed.sh when
# CHAOS_BACKEND=nsi, after lib.sh and nsi_lib.sh): issue 15 item 4.
#
# The real OpenNSA (../shared/peers/opennsa, nsi_lib.sh) with ports A-D
# (VLANs 1780-1789), one a host h1-h4; the adapter's nsi backend asks it
# for a connection a reservation, and the agents make the VLAN circuit's
# host ends on the bed's circuit switch (vrbed --circuits; the untagged
# macvlan stand-in where the kernel has no 802.1Q), so the data plane is
# real while the provider only books it.  The provider is one more victim:
# killed with -9 (OpenNSA alone) or stopped (OpenNSA and its PostgreSQL),
# and started again after 0-3 s.

# The kind of the circuits' host ends this kernel can make.
chaos_nsi_kind() {
    NSI_KIND=macvlan
    if ip -n "$P-h1" link add link ckt0 name vrprobe type vlan id 4000 2>/dev/null; then
        ip -n "$P-h1" link del vrprobe
        NSI_KIND=vlan
    fi
}

# chaos_nsi_section: the adapter's nsi: section, hosts h1-h4 (10.200.0.I)
# on ports A-D.  Holds are committed at once; the deadlines are generous
# for a loaded machine.
chaos_nsi_section() {
    local i ports=(A B C D)
    cat <<YAML
nsi:
  provider_url: $URL/NSI/services/CS2
  provider_nsa: $NSA
  requester_nsa: $REQ_NSA
  network: $NET
  hold_timeout_ms: 60000
  commit_deadline_ms: 20000
  connect_timeout_ms: 1000
  request_timeout_ms: 3000
  poll_ms: 20
  hosts:
YAML
    for i in 1 2 3 4; do
        echo "    - {ip: 10.200.0.$i, stp: ${ports[$((i - 1))]}, vlans: 1780-1789}"
    done
}

# chaos_nsi_up: OpenNSA started (stopped on any exit), vr-nsi-cli's config.
chaos_nsi_up() {
    nsi_peer_start --ports "A B C D"
    chaos_nsi_section >"$T/cli.yaml"
    N_PROVIDER=0
}

# chaos_nsi_restart DOWN_MS: kills OpenNSA with -9 or stops it with its
# database (at random), starts it again after DOWN_MS.
chaos_nsi_restart() {
    local down=$1 pid how t0
    rnd 2
    pid=$(cat "$W/run/opennsa.pid")
    grep -qs opennsa "/proc/$pid/cmdline" || fail "OpenNSA (pid $pid) died by itself"
    if [ "$R" = 0 ]; then
        how="kill -9"
        kill -KILL "$pid"
        # Not our child (start.sh left it running): until it is gone.
        t0=$SECONDS
        while kill -0 "$pid" 2>/dev/null; do
            [ $((SECONDS - t0)) -lt 10 ] || fail "OpenNSA (pid $pid) outlived kill -9"
            sleep 0.05
        done
    else
        how="stop.sh (with PostgreSQL)"
        "$PEER/stop.sh" "$W" >/dev/null 2>&1 || fail "OpenNSA did not stop"
    fi
    echo "  provider: $how, down $down ms" >>"$T/kills.log"
    ms_sleep "$down"
    t0=$(now_ms)
    ONSA_START_TIMEOUT=60 "$PEER/start.sh" "$W" >/dev/null 2>"$T/peer-restart.log" \
        || fail "OpenNSA did not start again: $(tail -n 5 "$T/peer-restart.log")"
    echo "  provider back in $(($(now_ms) - t0)) ms" >>"$T/kills.log"
    N_PROVIDER=$((N_PROVIDER + 1))
}

# chaos_nsi_answers: the provider answers its REST listing.
chaos_nsi_answers() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$URL/connections")" = 200 ]
}

# chaos_nsi_snapshot DIR: the provider's connections of ours (vr-nsi-cli
# query) into DIR/nsi.txt.
chaos_nsi_snapshot() {
    nsi_stuck >"$1/nsi_stuck.txt"
    "$BIN/vr-nsi-cli" -c "$T/cli.yaml" query >"$1/nsi.txt" 2>&1 \
        && grep -q '^connections ' "$1/nsi.txt" \
        || { echo "no listing from the provider: $(tail -n 2 "$1/nsi.txt")" \
                >"$T/agree.txt"; return 1; }
}

# chaos_nsi_end: with the job stopped, the planner releases its
# reservations; then the broker holds nothing open and the provider
# nothing live of ours (nothing leaked at the provider).
chaos_nsi_end() {
    local open
    open_resvs() {
        ctl --json reserve list --all >"$T/end.json" 2>/dev/null || return 1
        [ "$(jq '[.[] | select(.state == "requested" or .state == "provisioning"
            or .state == "active" or .state == "releasing")] | length' "$T/end.json")" = 0 ]
    }
    vr_until 60 open_resvs || fail "reservations still open 60 s after the job stopped: $(jq -c '[.[] | select(.state != "released" and .state != "failed") | .id + " " + .state]' "$T/end.json")"
    nsi_until_none_live 30 || fail "the provider holds connections live that the broker does not"
    N_CHECKS=$((N_CHECKS + 1))
    open=$("$BIN/vr-nsi-cli" -c "$T/cli.yaml" query | sed -n 's/^connections //p')
    echo "end: the broker holds nothing open; the provider nothing live of ours (of $open connections made)"
}
