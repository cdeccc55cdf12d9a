# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# vrbed's NIC hot-plug (sourced by vrbed, bash): `nic-add` plugs a VM's
# overlay NIC into its running QEMU guest, `nic-del` unplugs it, as
# libvirt's attach-interface and detach-interface do.  The NIC is the one
# a guest boots with otherwise: the tap vmJ in P-hI (made here, MTU
# vm-mtu, up, the bed's offloads) behind a virtio-net-pci device with the
# VM's MAC; QEMU's ids for them are net0 and nic0 (start_guest).  The
# QMP conversation is guest-qmp.py's; the guest brings the new interface
# up with its address itself (guest/nic, run by busybox uevent) and says
# so on its console.  Uses vrbed's open_bed, vm_pick, guest_pid,
# host_if_up, wait_link_gone and guest_net_opts.

# Parses "--prefix P [--timeout S] VM..." into PREFIX, NIC_TIMEOUT, VMS.
nic_args() {
    local cmd=$1 n
    shift
    PREFIX="" NIC_TIMEOUT=30 VMS=()
    while [ $# -gt 0 ]; do
        case $1 in
        --prefix) [ $# -ge 2 ] || usage_error "--prefix needs a value"
            PREFIX=$2; shift 2 ;;
        --timeout) [ $# -ge 2 ] || usage_error "--timeout needs a value"
            check_int timeout "$2" 1 3600
            NIC_TIMEOUT=$((10#$2)); shift 2 ;;
        -*) usage_error "$cmd: unknown option '$1'" ;;
        *) [[ $1 =~ ^h[0-9]{1,3}v[0-9]{1,3}$ ]] \
                || usage_error "bad VM '$1': want hIvJ, e.g. h1v2"
            for n in "${VMS[@]}"; do
                [ "$n" != "$1" ] || usage_error "VM '$1' named twice"
            done
            [ "${#VMS[@]}" -lt 1024 ] || usage_error "too many VMs"
            VMS+=("$1"); shift ;;
        esac
    done
    [ -n "$PREFIX" ] || usage_error "$cmd needs --prefix P"
    check_prefix "$PREFIX"
    [ "${#VMS[@]}" -gt 0 ] || usage_error "$cmd needs one VM or more"
}

# guest_qmp NAME ARGS...: guest-qmp.py on guest NAME's QMP socket.
guest_qmp() {
    local name=$1
    shift
    python3 "$HERE/guest-qmp.py" --timeout "$NIC_TIMEOUT" "$STATE/vm/$name.qmp" "$@"
}

# Checks that VM ROW... is a running QEMU guest with a QMP socket.
nic_check_vm() {
    local name=$2 vns=$6
    [ "$vns" = null ] || die "VM '$name' is a namespace: nic-add and nic-del are for QEMU guests"
    guest_pid "$STATE/vm/$name.pid" "${P[prefix]}-$name" >/dev/null \
        || die "VM '$name' is not running ('vrbed vm-start' starts it)"
    [ -S "$STATE/vm/$name.qmp" ] \
        || die "VM '$name' has no QMP socket (started by an older vrbed?)"
}

# unplug_nic ROW...: the device out of the guest (it acknowledges the
# eject), the tap backend out of QEMU, then the tap, and waits until it is
# gone from the host.  Succeeds on a guest without a NIC.
unplug_nic() {
    local hns=$1 name=$2 hif=$5
    if guest_pid "$STATE/vm/$name.pid" "${P[prefix]}-$name" >/dev/null; then
        guest_qmp "$name" unplug || { echo "vrbed: $name: the NIC did not unplug" >&2; return 1; }
    fi
    ! ip -n "$hns" link show "$hif" >/dev/null 2>&1 \
        || ip -n "$hns" link del "$hif" || return 1
    wait_link_gone "$hns" "$hif" || { echo "vrbed: $name: $hif is still in $hns" >&2; return 1; }
}

# On a failed nic-add, unplugs what it plugged (EXIT trap).
nic_add_rollback() {
    local rc=$? row r
    [ "$rc" -ne 0 ] || return 0
    echo "vrbed: nic-add failed${STEP:+ while $STEP}; unplugging what it plugged" >&2
    for row in "${PLUGGED[@]}"; do
        IFS=$'\t' read -r -a r <<<"$row"
        unplug_nic "${r[@]}" || true
    done
    exit 1
}

# ms since the epoch.
now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

# nic_begin VERB ARGS...: the arguments read, the bed opened, its VMs
# picked into ROWS, and each checked (a QEMU guest that runs).
nic_begin() {
    local row r
    nic_args "$@"
    need_root
    open_bed "$PREFIX"
    vm_pick
    for row in "${ROWS[@]}"; do
        IFS=$'\t' read -r -a r <<<"$row"
        nic_check_vm "${r[@]}"
    done
}

cmd_nic_add() {
    local row r name props=() t0 deadline left pending ms
    declare -A CONSOLE_AT=() PLUG_START=()
    nic_begin nic-add "$@"
    for row in "${ROWS[@]}"; do
        IFS=$'\t' read -r -a r <<<"$row"
        ! ip -n "${r[0]}" link show "${r[4]}" >/dev/null 2>&1 \
            || die "VM '${r[1]}' has its NIC (${r[4]} is in ${r[0]}): 'vrbed nic-del' unplugs it"
    done
    # The bed's offloads as the device's properties ("csum=off" ...).
    read -r -a props <<<"$(guest_net_opts | tr ',' ' ')"
    PLUGGED=()
    trap nic_add_rollback EXIT
    trap 'exit 130' INT TERM
    for row in "${ROWS[@]}"; do
        IFS=$'\t' read -r -a r <<<"$row"
        name=${r[1]}
        STEP="plugging $name's NIC"
        CONSOLE_AT[$name]=$(stat -c %s "$STATE/vm/$name.console" 2>/dev/null || echo 0)
        t0=$(now_ms)
        PLUG_START[$name]=$t0
        PLUGGED+=("$row")
        # The tap is made by guest-qmp.py once its QMP session is ready
        # (host_if_up's settings), right before the plug.
        # shellcheck disable=SC2016 # sh's positional parameters
        guest_qmp "$name" plug "${r[4]}" "${r[2]}" "${props[@]}" -- sh -c \
            'ip -n "$1" tuntap add dev "$2" mode tap && ip -n "$1" link set "$2" mtu "$3" up \
             && { [ "$4" = on ] || ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off >/dev/null; }' \
            sh "${r[0]}" "${r[4]}" "${P[vm_mtu]}" "${P[offloads]}" \
            || die "$name: QEMU did not take the NIC"
        ms=$(($(now_ms) - t0))
        echo "vrbed: $name: QMP session, tap ${r[4]} made, NIC plugged in $((ms / 1000)).$(printf %03d $((ms % 1000))) s" >&2
    done
    # Each guest says on its console when its new interface is up with
    # its address (guest/nic); only what it wrote since the plug counts.
    STEP="waiting for the guests' interfaces"
    deadline=$((SECONDS + NIC_TIMEOUT))
    left=("${!PLUG_START[@]}")
    while [ "${#left[@]}" -gt 0 ]; do
        pending=()
        for name in "${left[@]}"; do
            if tail -c +$((CONSOLE_AT[$name] + 1)) "$STATE/vm/$name.console" 2>/dev/null \
                | grep -q "^vrbed-guest: nic eth[0-9]* up"; then
                ms=$(($(now_ms) - PLUG_START[$name]))
                echo "vrbed: $name: NIC up in the guest $((ms / 1000)).$(printf %03d $((ms % 1000))) s after the plug began" >&2
                continue
            fi
            pending+=("$name")
        done
        left=("${pending[@]}")
        [ "${#left[@]}" -gt 0 ] || break
        [ "$SECONDS" -lt "$deadline" ] \
            || die "no interface up in ${NIC_TIMEOUT} s in: ${left[*]}"
        sleep 0.05
    done
    trap - EXIT INT TERM
}

cmd_nic_del() {
    local row r rc=0 t0 ms
    nic_begin nic-del "$@"
    for row in "${ROWS[@]}"; do
        IFS=$'\t' read -r -a r <<<"$row"
        t0=$(now_ms)
        if unplug_nic "${r[@]}"; then
            ms=$(($(now_ms) - t0))
            echo "vrbed: ${r[1]}: NIC unplugged and tap ${r[4]} gone in $((ms / 1000)).$(printf %03d $((ms % 1000))) s" >&2
        else
            rc=1
        fi
    done
    [ "$rc" = 0 ] || die "nic-del: not every NIC unplugged cleanly"
}
