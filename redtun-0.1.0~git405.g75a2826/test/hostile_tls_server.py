#!/usr/bin/env python3
"""A deliberately broken TLS server for the redtun adversarial test.

    hostile_tls_server.py --port PORT --cert CRT --key KEY --mode MODE

Listens on 127.0.0.1:PORT and serves every connection (one thread each)
until killed. The TLS engine is an ssl.SSLObject over MemoryBIOs, so this
script sees and controls every byte that goes on the wire. Modes:

  garbage-after-handshake   complete the handshake, then write random
                            non-TLS bytes raw to the socket
  garbage-during-handshake  answer the ClientHello with random bytes
  truncated-record          after the handshake, an application-data record
                            header announcing 1000 bytes, 10 bytes of it,
                            then close
  oversized-record          after the handshake, a record header announcing
                            more than 16384+2048 bytes, and that many bytes
  close-no-notify           answer the first request with "+PONG\\r\\n", then
                            close TCP without a close_notify alert

One line per event goes to stdout ("listening on ...", "conn N: ...").
Standard library only.
"""

import argparse
import os
import socket
import ssl
import struct
import sys
import threading

MODES = (
    "garbage-after-handshake",
    "garbage-during-handshake",
    "truncated-record",
    "oversized-record",
    "close-no-notify",
)

# How long a connection may sit in one state before we give up on it.
IO_TIMEOUT = 30.0


def log(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def garbage(n):
    """n random bytes that cannot be mistaken for a TLS record header: the
    first byte is never a TLS content type (20..24) nor an SSLv2 header
    (high bit set)."""
    b = bytearray(os.urandom(n))
    while 20 <= b[0] <= 24 or b[0] & 0x80:
        b[0] = os.urandom(1)[0]
    return bytes(b)


class Conn:
    def __init__(self, sock, ctx, n):
        self.sock = sock
        self.n = n
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_side=True)

    def log(self, msg):
        log("conn %d: %s" % (self.n, msg))

    def flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def feed(self):
        """Read from the socket into the TLS engine; False on EOF."""
        data = self.sock.recv(65536)
        if not data:
            return False
        self.inc.write(data)
        return True

    def handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                if not self.feed():
                    self.log("peer closed during the handshake")
                    return False
        self.flush()
        self.log("handshake done: %s %s" % (self.tls.version(),
                                             self.tls.cipher()[0]))
        return True

    def read_app_data(self):
        """Decrypted bytes of the next application data, b"" on EOF."""
        while True:
            try:
                data = self.tls.read(65536)
                self.flush()
                return data
            except ssl.SSLWantReadError:
                self.flush()
                if not self.feed():
                    return b""
            except ssl.SSLZeroReturnError:
                return b""

    def linger(self):
        """Keep the connection open until the peer closes it (or a timeout),
        so the peer's reaction is to what we sent, not to our EOF."""
        try:
            while self.sock.recv(65536):
                pass
            self.log("peer closed the connection")
        except socket.timeout:
            self.log("peer kept the connection open for %ds" % IO_TIMEOUT)
        except OSError as e:
            self.log("peer connection error: %s" % e)

    def close_fin(self):
        """Plain TCP close (FIN), no close_notify."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def serve(self, mode):
        if mode == "garbage-during-handshake":
            hello = self.sock.recv(65536)
            self.log("got %d bytes of ClientHello, answering with garbage"
                     % len(hello))
            self.sock.sendall(garbage(512))
            self.linger()
            return
        if not self.handshake():
            return
        if mode == "garbage-after-handshake":
            self.sock.sendall(garbage(512))
            self.log("sent 512 bytes of garbage")
            self.linger()
        elif mode == "truncated-record":
            # application_data, TLS 1.2 legacy version, length 1000
            self.sock.sendall(struct.pack("!BHH", 23, 0x0303, 1000)
                              + os.urandom(10))
            self.log("sent a record header for 1000 bytes and 10 bytes")
            self.close_fin()
            self.linger()
        elif mode == "oversized-record":
            length = 0x4900     # > 16384 + 2048 = 0x4800
            self.sock.sendall(struct.pack("!BHH", 23, 0x0303, length)
                              + os.urandom(length))
            self.log("sent a record of %d bytes" % length)
            self.linger()
        elif mode == "close-no-notify":
            req = self.read_app_data()
            self.log("request: %r" % req)
            if req:
                self.tls.write(b"+PONG\r\n")
                self.flush()
                self.log("answered +PONG, closing TCP without close_notify")
            self.close_fin()
            self.linger()


def handle(sock, ctx, mode, n):
    sock.settimeout(IO_TIMEOUT)
    c = Conn(sock, ctx, n)
    try:
        c.serve(mode)
    except (OSError, ssl.SSLError) as e:
        c.log("error: %s" % e)
    finally:
        sock.close()
        c.log("done")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--mode", choices=MODES, required=True)
    ap.add_argument("--tls", choices=("1.2", "1.3", "any"), default="any",
                    help="restrict the TLS version (default: 1.2 and 1.3)")
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    if a.tls == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif a.tls == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    # No session tickets: nothing but what the mode says after the handshake.
    ctx.num_tickets = 0

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(64)
    log("listening on 127.0.0.1:%d mode %s" % (a.port, a.mode))
    n = 0
    while True:
        sock, peer = srv.accept()
        n += 1
        log("conn %d: from %s:%d" % (n, peer[0], peer[1]))
        threading.Thread(target=handle, args=(sock, ctx, a.mode, n),
                         daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
