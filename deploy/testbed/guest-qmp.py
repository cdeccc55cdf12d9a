#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Plugs a NIC into a running vrbed QEMU guest, or unplugs it, over the
guest's QMP socket (deploy/testbed/vrbed-nic.sh calls it).

Usage:
  guest-qmp.py [--timeout S] SOCKET plug TAP MAC [PROP=on|off ...] [-- CMD...]
  guest-qmp.py [--timeout S] SOCKET unplug
  guest-qmp.py [--timeout S] SOCKET has-nic

plug: netdev_add of a tap backend "net0" on the existing tap TAP (in the
QEMU's network namespace), then device_add of a virtio-net-pci "nic0"
with MAC and the given boolean properties (the bed's offloads); if the
device cannot be added, the backend is removed again.  CMD (run without
a shell, its output passed through) makes the tap: it runs once the QMP
session is ready, just before netdev_add, so that the NIC reaches the
guest as soon after the tap appears as it can.  unplug:
device_del "nic0", waits for QEMU's DEVICE_DELETED event (the guest
acknowledges the ACPI eject), then netdev_del "net0"; a guest with no
NIC is no error.  has-nic: exit 0 when "nic0" is plugged, 3 when not.
Exit 1 on failure (the reason on stderr), 2 on usage errors."""
import json
import socket
import subprocess
import sys
import time

NETDEV = "net0"
DEVICE = "nic0"
MAX_LINE = 1 << 20       # one QMP message; QEMU's are far shorter


class QmpError(Exception):
    pass


class Qmp:
    def __init__(self, path, timeout):
        self.deadline = time.monotonic() + timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self._left())
        try:
            self.sock.connect(path)
        except OSError as e:
            raise QmpError(f"cannot connect to {path}: {e}") from e
        self.buf = b""
        self.events = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise QmpError("no QMP greeting")
        self.call("qmp_capabilities")

    def _left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise QmpError("timed out")
        return left

    def _read(self):
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise QmpError("a QMP message too long")
            self.sock.settimeout(self._left())
            try:
                data = self.sock.recv(65536)
            except socket.timeout as e:
                raise QmpError("timed out") from e
            if not data:
                raise QmpError("QEMU closed the QMP socket")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except ValueError as e:
            raise QmpError("bad JSON from QEMU") from e
        if not isinstance(msg, dict):
            raise QmpError("a QMP message that is not an object")
        return msg

    def call(self, cmd, **args):
        req = {"execute": cmd}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        while True:
            msg = self._read()
            if "event" in msg:
                self.events.append(msg)
                continue
            if "error" in msg:
                err = msg["error"]
                desc = err.get("desc", "?") if isinstance(err, dict) else "?"
                raise QmpError(f"{cmd}: {str(desc)[:300]}")
            if "return" in msg:
                return msg["return"]

    def wait_event(self, name, device):
        while True:
            for ev in self.events:
                data = ev.get("data")
                if ev.get("event") == name and isinstance(data, dict) \
                        and data.get("device") == device:
                    return
            self.events = []
            msg = self._read()
            if "event" in msg:
                self.events.append(msg)


def has_nic(q):
    for bus in q.call("query-pci"):
        for dev in bus.get("devices", []):
            if dev.get("qdev_id") == DEVICE:
                return True
    return False


def plug(q, tap, mac, props, make_tap):
    if has_nic(q):
        raise QmpError(f"the guest has a {DEVICE} already")
    if make_tap:
        try:
            rc = subprocess.run(make_tap, timeout=q._left(),
                                check=False).returncode
        except (OSError, subprocess.TimeoutExpired) as e:
            raise QmpError(f"making the tap: {e}") from e
        if rc != 0:
            raise QmpError(f"making the tap: {make_tap[0]} exited {rc}")
    q.call("netdev_add", type="tap", id=NETDEV, ifname=tap,
           script="no", downscript="no")
    try:
        q.call("device_add", driver="virtio-net-pci", id=DEVICE,
               netdev=NETDEV, mac=mac, **props)
    except QmpError:
        try:
            q.call("netdev_del", id=NETDEV)
        except QmpError:
            pass
        raise


def unplug(q):
    if has_nic(q):
        q.call("device_del", id=DEVICE)
        q.wait_event("DEVICE_DELETED", DEVICE)
    try:
        q.call("netdev_del", id=NETDEV)
    except QmpError as e:
        # Gone already (never plugged, or an earlier unplug got this far).
        if "not found" not in str(e).lower():
            raise


def usage():
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    sys.exit(2)


def parse_props(words):
    props = {}
    for w in words:
        key, sep, val = w.partition("=")
        if not sep or val not in ("on", "off") or not key.isidentifier() \
                or len(key) > 32:
            usage()
        props[key] = val == "on"
    return props


def main(argv):
    timeout = 30.0
    if len(argv) >= 2 and argv[0] == "--timeout":
        try:
            timeout = float(argv[1])
        except ValueError:
            usage()
        if not 0 < timeout <= 3600:
            usage()
        argv = argv[2:]
    if len(argv) < 2:
        usage()
    path, cmd, rest = argv[0], argv[1], argv[2:]
    make_tap = []
    if "--" in rest:
        cut = rest.index("--")
        rest, make_tap = rest[:cut], rest[cut + 1:]
        if cmd != "plug" or not make_tap:
            usage()
    if cmd == "plug":
        if len(rest) < 2 or not 1 <= len(rest[0]) <= 15 \
                or len(rest[1]) != 17 or len(rest) > 40:
            usage()
        props = parse_props(rest[2:])
    elif cmd in ("unplug", "has-nic"):
        if rest:
            usage()
    else:
        usage()
    try:
        q = Qmp(path, timeout)
        if cmd == "plug":
            plug(q, rest[0], rest[1], props, make_tap)
        elif cmd == "unplug":
            unplug(q)
        elif not has_nic(q):
            return 3
    except (QmpError, OSError) as e:
        print(f"guest-qmp: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
