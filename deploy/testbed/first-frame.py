#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Prints the time (epoch microseconds) of the first frame a VM sends to a
TCP port, as seen on the VM's host-side interface, then exits.

Usage: first-frame.py IFACE PORT [TIMEOUT_S]   (as root, in the host's
namespace).  Exit 1 with nothing printed if no such frame came in time.
tests/bench/adapt.sh uses it to start its clock at the workload's first
frame rather than at the command that starts the workload."""
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def main():
    iface, port = sys.argv[1], int(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    print("ready", file=sys.stderr, flush=True)
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([s], [], [], max(0.0, end - time.time()))
        if not r:
            break
        frame, addr = s.recvfrom(2048)
        now = time.time()
        # Frames the VM sent arrive on the host side as PACKET_HOST (0) or
        # OTHERHOST; what the host sends to the VM is PACKET_OUTGOING (4).
        if addr[2] == socket.PACKET_OUTGOING or len(frame) < 14 + 20 + 4:
            continue
        if struct.unpack("!H", frame[12:14])[0] != 0x0800:
            continue
        ihl = (frame[14] & 0x0F) * 4
        if frame[14 + 9] != 6 or len(frame) < 14 + ihl + 4:
            continue
        dport = struct.unpack("!H", frame[14 + ihl + 2:14 + ihl + 4])[0]
        if dport == port:
            print(int(now * 1e6), flush=True)
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
