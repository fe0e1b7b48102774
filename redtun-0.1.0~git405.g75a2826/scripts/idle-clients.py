#!/usr/bin/env python3
"""Open N idle Redis connections and hold them (used by scripts/bench, W5).

    scripts/idle-clients.py N PORT [HOST] [TIMEOUT]

Opens N TCP connections to HOST:PORT (default 127.0.0.1), sends one PING on
each and waits for its +PONG, with at most 64 connections still waiting for
their reply at any time (so a tunnel's accept backlog is never overrun).
When all N have answered it prints "ready N" on stdout and holds every
connection open until it gets SIGTERM/SIGINT. Exit status 1 (with a message
on stderr) when something fails or TIMEOUT seconds (default 120) pass before
all N are ready. Standard library only.
"""
import errno
import resource
import selectors
import signal
import socket
import sys
import time

WINDOW = 64
PING = b"*1\r\n$4\r\nPING\r\n"
PONG = b"+PONG\r\n"


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    n = int(sys.argv[1])
    port = int(sys.argv[2])
    host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    sel = selectors.DefaultSelector()
    done = []        # sockets that got their PONG
    pending = {}     # socket -> bytes received so far
    opened = 0
    deadline = time.monotonic() + limit

    def open_one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(10)
        s.connect((host, port))
        s.sendall(PING)
        s.setblocking(False)
        pending[s] = b""
        sel.register(s, selectors.EVENT_READ)

    try:
        while len(done) < n:
            if stop:
                return 1
            while opened < n and len(pending) < WINDOW:
                open_one()
                opened += 1
            left = deadline - time.monotonic()
            if left <= 0:
                sys.stderr.write("idle-clients: timed out: %d of %d ready\n"
                                 % (len(done), n))
                return 1
            for key, _ in sel.select(timeout=min(left, 1.0)):
                s = key.fileobj
                try:
                    data = s.recv(64)
                except OSError as e:
                    if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                        continue
                    raise
                if not data:
                    sys.stderr.write("idle-clients: connection %d closed "
                                     "before +PONG\n" % (len(done) + 1))
                    return 1
                buf = pending[s] + data
                if len(buf) >= len(PONG):
                    if not buf.startswith(PONG):
                        sys.stderr.write("idle-clients: unexpected reply %r\n"
                                         % buf)
                        return 1
                    sel.unregister(s)
                    del pending[s]
                    done.append(s)
                else:
                    pending[s] = buf
        sys.stdout.write("ready %d\n" % len(done))
        sys.stdout.flush()
        while not stop:
            signal.pause()
        return 0
    except OSError as e:
        sys.stderr.write("idle-clients: %s (after %d ready)\n" % (e, len(done)))
        return 1
    finally:
        for s in done + list(pending):
            s.close()


if __name__ == "__main__":
    sys.exit(main())
