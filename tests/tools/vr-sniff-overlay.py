#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# vr-sniff-overlay: captures overlay datagrams (UDP 7000 -> 7000) seen on
# an interface, for the tests that replay them (agent_trust, agent_roam).
#   vr-sniff-overlay.py OUT IFACE SRC_IP [DST_IP]
# Run inside the namespace that holds IFACE.  Keeps the UDP payloads of
# datagrams from SRC_IP (to DST_IP, if given), at most 40 or for 2.5 s,
# and writes them to OUT, each behind its 4-byte big-endian length.
import socket
import struct
import sys
import time

out, iface, src = sys.argv[1], sys.argv[2], socket.inet_aton(sys.argv[3])
dst = socket.inet_aton(sys.argv[4]) if len(sys.argv) > 4 else None
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((iface, 0))
s.settimeout(0.2)
got, end = [], time.time() + 2.5
while time.time() < end and len(got) < 40:
    try:
        f = s.recv(65535)
    except socket.timeout:
        continue
    ip = f[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 17 or ip[12:16] != src or (dst and ip[16:20] != dst):
        continue
    sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
    if sport == 7000 and dport == 7000:
        got.append(ip[ihl + 8:])
with open(out, "wb") as f:
    f.write(b"".join(struct.pack("!I", len(g)) + g for g in got))
