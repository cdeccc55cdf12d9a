#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Prints the time (epoch microseconds) of the first frame of a kind seen
on a VM's host-side interface IFACE, then exits.

Usage (as root, in the host's namespace):
  first-frame.py IFACE PORT [TIMEOUT_S]
      the first TCP segment the VM sends to PORT (tests/bench/adapt.sh
      starts its clock at the workload's first frame, not at the command
      that starts it);
  first-frame.py --reply IFACE SRC_IP [TIMEOUT_S]
      the first ICMP echo reply from SRC_IP handed to the VM: when a
      guest's ping is first answered, on the host's clock
      (tests/integration/test_qemu_hotplug.sh).
Says "ready" on stderr once it listens; exit 1 with nothing printed if no
such frame came in time."""
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def sent_to_port(port):
    """Frames the VM sent (they arrive on the host side as PACKET_HOST or
    OTHERHOST, never PACKET_OUTGOING): TCP to 'port'."""
    def match(frame, pkttype):
        if pkttype == socket.PACKET_OUTGOING or len(frame) < 14 + 20 + 4:
            return False
        if struct.unpack("!H", frame[12:14])[0] != 0x0800:
            return False
        ihl = (frame[14] & 0x0F) * 4
        if frame[14 + 9] != 6 or len(frame) < 14 + ihl + 4:
            return False
        return struct.unpack("!H", frame[14 + ihl + 2:14 + ihl + 4])[0] == port
    return match


def reply_from(src):
    """What the host hands to the VM goes out of IFACE (PACKET_OUTGOING):
    an ICMP echo reply from 'src'."""
    def match(frame, pkttype):
        if pkttype != socket.PACKET_OUTGOING or len(frame) < 14 + 20 + 8:
            return False
        if frame[12:14] != b"\x08\x00" or frame[14 + 9] != 1:
            return False
        ihl = (frame[14] & 0x0F) * 4
        if frame[14 + 12:14 + 16] != src or len(frame) < 14 + ihl + 8:
            return False
        return frame[14 + ihl] == 0
    return match


def main(argv):
    reply = len(argv) > 1 and argv[1] == "--reply"
    if reply:
        argv = argv[1:]
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    iface = argv[1]
    match = reply_from(socket.inet_aton(argv[2])) if reply \
        else sent_to_port(int(argv[2]))
    timeout = float(argv[3]) if len(argv) > 3 else 30.0
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
        if match(frame, addr[2]):
            print(int(now * 1e6), flush=True)
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
