#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs a command in a vrbed QEMU guest over its command channel.

usage: guest-exec.py [--timeout S] SOCKET_BASE cmd...

SOCKET_BASE.cmd0 .. .cmd3 are the unix sockets of the guest's
virtio-serial ports (deploy/testbed/guest/chan is the other end).  One
command at a time runs on a channel: this takes the first free one (an
flock on SOCKET_BASE.cmdN.lock), or waits for one.  The command words are
quoted into one shell command, run by the guest's busybox sh with stdin
from /dev/null; its stdout and stderr come back here, and its exit code is
ours.  255 means the channel failed (the reason is on stderr).

Protocol: request "vrbed1 ID TIMEOUT SIZE\\n" + SIZE bytes of script; reply
"vrbed1 ID RC OUT_SIZE ERR_SIZE\\n" + the output.  ID is random per request:
a reply for an earlier request that was given up on (the guest sends it
to whoever connects next) is read past and dropped.
"""
import fcntl
import os
import secrets
import shlex
import socket
import sys
import time

N_CHANNELS = 4
MAX_SCRIPT = 65536        # the guest refuses more
MAX_OUT = 1 << 20         # the guest cuts each output there
MAX_TIMEOUT = 86400
# What the guest may send before our reply: a stale reply at most.
MAX_SKIP = 2 * MAX_OUT + 4096
GRACE_S = 10              # beyond the command's timeout: boot, transfer


class ChannelError(Exception):
    pass


def take_channel(base, deadline):
    """Returns (path, lock fd) of a free channel, waiting up to deadline."""
    fds = []
    try:
        for n in range(N_CHANNELS):
            fds.append(os.open(f"{base}.cmd{n}.lock",
                               os.O_RDWR | os.O_CREAT, 0o600))
        while True:
            for n, fd in enumerate(fds):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                for other in fds:
                    if other != fd:
                        os.close(other)
                return f"{base}.cmd{n}", fd
            if time.monotonic() > deadline:
                raise ChannelError("every command channel is busy")
            time.sleep(0.05)
    except OSError as e:
        for fd in fds:
            os.close(fd)
        raise ChannelError(f"cannot lock the channels of {base}: {e}")


class Reader:
    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.buf = b""
        self.skipped = 0

    def fill(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ChannelError("no reply in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise ChannelError("no reply in time")
        if not data:
            raise ChannelError("the guest's channel closed (QEMU gone?)")
        self.buf += data

    def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 256:
                # Not a header: the tail of a stale reply.  Keep the end,
                # which may be the start of a header.
                self.skipped += len(self.buf) - 64
                self.buf = self.buf[-64:]
                self.check_skip()
            self.fill()
        line, self.buf = self.buf.split(b"\n", 1)
        self.skipped += len(line) + 1
        return line

    def exactly(self, size):
        while len(self.buf) < size:
            self.fill()
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def check_skip(self):
        if self.skipped > MAX_SKIP:
            raise ChannelError("too much unexpected data on the channel")


def parse_size(word, limit):
    if not word.isdigit() or len(word) > 8 or int(word) > limit:
        raise ChannelError(f"bad size in reply: {word[:16]!r}")
    return int(word)


def run(base, timeout, argv):
    script = shlex.join(argv).encode() + b"\n"
    if len(script) > MAX_SCRIPT:
        raise ChannelError(f"command is {len(script)} bytes, at most {MAX_SCRIPT}")
    deadline = time.monotonic() + timeout + GRACE_S
    path, lock = take_channel(base, deadline)
    req_id = secrets.token_hex(8)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(5)
            try:
                sock.connect(path)
            except OSError as e:
                raise ChannelError(f"cannot connect to {path}: {e}")
            sock.sendall(b"vrbed1 %s %d %d\n" % (req_id.encode(), timeout,
                                                 len(script)) + script)
            r = Reader(sock, deadline)
            while True:
                words = r.line().split()
                if (len(words) == 5 and words[0] == b"vrbed1"
                        and words[1] == req_id.encode()):
                    break
                r.check_skip()
            try:
                rc = int(words[2])
            except ValueError:
                rc = -1
            if not 0 <= rc <= 255:
                raise ChannelError(f"bad exit code in reply: {words[2][:16]!r}")
            out = r.exactly(parse_size(words[3].decode("ascii", "replace"), MAX_OUT))
            err = r.exactly(parse_size(words[4].decode("ascii", "replace"), MAX_OUT))
        finally:
            sock.close()
    finally:
        os.close(lock)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    sys.stderr.buffer.write(err)
    sys.stderr.flush()
    return rc


def main():
    args = sys.argv[1:]
    timeout = 60
    if len(args) >= 2 and args[0] == "--timeout":
        if not args[1].isdigit() or not 1 <= int(args[1]) <= MAX_TIMEOUT:
            print(f"guest-exec: bad --timeout {args[1][:32]!r}: want 1 to "
                  f"{MAX_TIMEOUT} s", file=sys.stderr)
            return 2
        timeout = int(args[1])
        args = args[2:]
    if len(args) < 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        return run(args[0], timeout, args[1:])
    except ChannelError as e:
        print(f"guest-exec: {os.path.basename(args[0])}: {e}", file=sys.stderr)
        return 255


if __name__ == "__main__":
    sys.exit(main())
