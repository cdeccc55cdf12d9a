#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# vr-tapvm: a stand-in for a QEMU guest on a tap device, for
# integration.agent_vmports: it attaches to tap TAP as QEMU does
# (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, no offloads asked for), then
#   1. writes one UDP GSO super-frame (virtio header: UDP_L4, segment
#      SEG, checksum partial) of N bytes to PEER_IP:9998, as a guest with
#      its offloads on hands QEMU one;
#   2. reads what comes back to it on UDP port 9999 until it holds N bytes
#      or TIMEOUT seconds passed, checking every frame: no GSO left (the
#      tap asked for no offloads, so the kernel must have segmented), IPv4
#      header checksum, UDP length and checksum, the payload's bytes.
#   vr-tapvm.py TAP MAC IP PEER_MAC PEER_IP N SEG TIMEOUT
# Run inside the namespace that holds TAP.  Prints what it got; exits 0 if
# the N bytes came whole, 1 if not.
import fcntl
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000
VNET_HDR = struct.Struct("=BBHHHH")     # flags gso_type hdr_len gso_size
#                                         csum_start csum_offset
F_NEEDS_CSUM, GSO_NONE, GSO_UDP_L4 = 1, 0, 5


def mac_bytes(s):
    return bytes(int(x, 16) for x in s.split(":"))


def ip_bytes(s):
    return bytes(int(x) for x in s.split("."))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def payload(n):
    return bytes((i * 7 + 3) % 251 for i in range(n))


def main():
    tap, mac, ip, peer_mac, peer_ip = sys.argv[1:6]
    n, seg, timeout = int(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8])
    mac, peer_mac = mac_bytes(mac), mac_bytes(peer_mac)
    ip, peer_ip = ip_bytes(ip), ip_bytes(peer_ip)
    want = payload(n)

    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", tap.encode(),
                                           IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))

    # 1. One super-frame to PEER_IP:9998, checksum left to the kernel:
    # the UDP checksum field holds the pseudo-header's sum, as for any
    # checksum-partial frame.
    udp_len = 8 + n
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 1, 0x4000, 64,
                      17, 0, ip, peer_ip)
    iph = iph[:10] + struct.pack("!H", 0xFFFF - csum(iph)) + iph[12:]
    pseudo = csum(ip + peer_ip + struct.pack("!BBH", 0, 17, udp_len))
    udph = struct.pack("!HHHH", 9999, 9998, udp_len, pseudo)
    frame = peer_mac + mac + b"\x08\x00" + iph + udph + want
    vh = VNET_HDR.pack(F_NEEDS_CSUM, GSO_UDP_L4, 14 + 20 + 8, seg, 14 + 20, 6)
    os.write(fd, vh + frame)
    print("sent one %d-byte super-frame (segments of %d)" % (len(frame), seg),
          flush=True)

    # 2. What comes back on port 9999.
    got = {}
    frames = bad = 0
    deadline = time.monotonic() + timeout
    while sum(len(v) for v in got.values()) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        buf = os.read(fd, 70000)
        flags, gso, _, _, _, _ = VNET_HDR.unpack(buf[:10])
        eth = buf[10:]
        if len(eth) < 42 or eth[12:14] != b"\x08\x00" or eth[23] != 17:
            continue
        ihl = (eth[14] & 0x0F) * 4
        tot = struct.unpack("!H", eth[16:18])[0]
        ip_h = eth[14:14 + ihl]
        udp = eth[14 + ihl:14 + tot]
        sport, dport, ulen, ucs = struct.unpack("!HHHH", udp[:8])
        if dport != 9999 or ip_h[12:16] != peer_ip or ip_h[16:20] != ip:
            continue
        frames += 1
        ok = (gso == GSO_NONE and len(eth) >= 14 + tot and csum(ip_h) == 0xFFFF
              and ulen == len(udp) and ulen <= seg + 8)
        if ok and not flags & F_NEEDS_CSUM and ucs != 0:
            ok = csum(ip_h[12:20] + struct.pack("!BBH", 0, 17, ulen)
                      + udp) == 0xFFFF
        off = struct.unpack("!I", udp[8:12])[0] if ulen >= 12 else -1
        body = udp[12:]
        ok = ok and 0 <= off and want[off:off + len(body)] == body
        if not ok:
            bad += 1
            print("bad frame: vnet flags %d gso %d, %d bytes" %
                  (flags, gso, len(eth)), flush=True)
            continue
        got[off] = body
    total = sum(len(v) for v in got.values())
    print("received %d frames, %d bad, %d of %d bytes" % (frames, bad, total, n),
          flush=True)
    return 0 if total == n and bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
