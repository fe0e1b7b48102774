#!/usr/bin/env python3
"""TLS client (and oracle server) driver for test/mtls-matrix.sh and
test/log-forgery.sh.  Standard library only; everything on 127.0.0.1.

    mtls_matrix.py matrix --cases FILE --server-ca CA --oracle-cert CRT
                          --oracle-key KEY --client-ca CA --redtun-port P
        For every case of FILE (tab separated: name, chain file or "-",
        key file or "-") probe an in-process OpenSSL oracle (a python ssl
        server with CERT_REQUIRED and the client CA, default security level)
        and redtun's port with the same client certificate.  A probe
        completes the handshake, sends PING and counts as "accept" only when
        +PONG comes back.  One tab separated line per case on stdout:
          name  oracle  oracle-detail  redtun  redtun-detail  redtun-port
        (redtun-port is the client's local port, which redtun logs as the
        peer, so the shell can find redtun's lines of that connection).

    mtls_matrix.py resume --plan FILE --server-ca CA
        Runs a plan of session resumption probes; sessions only live inside
        one process, so the whole plan runs here.  Plan lines (tab separated,
        '#' comments):
          ctx   NAME  tls12|tls12-ticket|tls13  [CHAIN KEY]
          probe LABEL CTX PORT KEY [save=SLOT] [use=SLOT]
          run   SHELL-COMMAND          (must exit 0 within 60 s)
        A probe connects (offering the session of slot use=, if any),
        completes the handshake, sends "SET KEY 1" and reads the reply; with
        save= the session is kept afterwards (after the reply, so that a
        TLS 1.3 ticket has arrived).  One line per probe on stdout:
          probe LABEL  hs=ok|fail  reused=0|1|-  reply=...  port=N
                offered=0|1 ticket=0|1|- err=...

    mtls_matrix.py hello --port P --sni-hex HEX
        Sends a hand-made TLS 1.2 ClientHello whose server_name extension
        holds the given bytes (python's ssl refuses such names), reads what
        comes back for up to 3 s and prints the local port.
"""

import argparse
import binascii
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

IO_TIMEOUT = 8.0
HOSTNAME = "localhost"  # the test server certificate's name


def one_line(s):
    """Make an error text safe for one tab separated field."""
    s = str(s)
    return "".join(c if 32 <= ord(c) < 127 and c != "\t" else "?" for c in s)[:300]


# ---------------------------------------------------------------------------
# The oracle: OpenSSL (through python's ssl module) verifying the client.

class Oracle:
    def __init__(self, cert, key, client_ca):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.ctx.load_verify_locations(cafile=client_ca)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.results = {}  # client port -> (verdict, detail)
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop:
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.serve(conn, peer[1])

    def serve(self, conn, port):
        verdict, detail = "refuse", ""
        conn.settimeout(IO_TIMEOUT)
        try:
            s = self.ctx.wrap_socket(conn, server_side=True)
            try:
                data = b""
                while b"\r\n" not in data or data.count(b"\r\n") < 3:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                s.sendall(b"+PONG\r\n")
                verdict, detail = "accept", s.version()
            finally:
                close_tls(s)
        except (ssl.SSLError, OSError) as e:
            detail = getattr(e, "verify_message", None) or str(e)
            try:
                conn.close()
            except OSError:
                pass
        with self.lock:
            self.results[port] = (verdict, one_line(detail))

    def result(self, port):
        for _ in range(100):
            with self.lock:
                if port in self.results:
                    return self.results[port]
            time.sleep(0.05)
        return ("refuse", "oracle saw no connection")


def client_ctx(server_ca, chain=None, key=None, version=None, tickets=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=server_ca)
    ctx.check_hostname = True
    # Security level 0 on the client only: OpenSSL would otherwise refuse
    # to even load the weak certificates (RSA-1024, SHA-1) the matrix sends.
    # The servers under test keep their own policy.
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if chain is not None:
        ctx.load_cert_chain(chain, key)
    if version == "tls12":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "tls13":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


def close_tls(s):
    """Send close_notify (so that redtun does not log a truncation), wait
    briefly for the peer's, then close."""
    try:
        s.settimeout(2.0)
        s.unwrap().close()
    except (ssl.SSLError, OSError, ValueError):
        try:
            s.close()
        except OSError:
            pass


def exchange(ctx, port, payload, expect, session=None):
    """Connect, handshake, send payload, read one reply line.
    Returns a dict: hs, reused, reply, port, err, sock session."""
    r = {"hs": "fail", "reused": "-", "reply": "", "port": 0, "err": "",
         "session": None, "offered": 0 if session is None else 1}
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.settimeout(IO_TIMEOUT)
    try:
        raw.connect(("127.0.0.1", port))
        r["port"] = raw.getsockname()[1]
        kw = {"server_hostname": HOSTNAME}
        if session is not None:
            kw["session"] = session
        s = ctx.wrap_socket(raw, **kw)
    except (ssl.SSLError, OSError, ValueError) as e:
        r["err"] = one_line(e)
        raw.close()
        return r
    r["hs"] = "ok"
    r["reused"] = "1" if s.session_reused else "0"
    try:
        s.sendall(payload)
        data = b""
        deadline = time.monotonic() + IO_TIMEOUT
        while b"\r\n" not in data and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        r["reply"] = one_line(data.split(b"\r\n")[0].decode("latin-1"))
        if data.startswith(expect):
            r["session"] = s.session
    except (ssl.SSLError, OSError) as e:
        r["err"] = one_line(e)
    close_tls(s)
    return r


def cmd_matrix(a):
    oracle = Oracle(a.oracle_cert, a.oracle_key, a.client_ca)
    ping = b"*1\r\n$4\r\nPING\r\n"
    with open(a.cases) as f:
        cases = [l.rstrip("\n").split("\t") for l in f
                 if l.strip() and not l.startswith("#")]
    for name, chain, key in cases:
        try:
            ctx = client_ctx(a.server_ca, None if chain == "-" else chain,
                             None if key == "-" else key)
        except (ssl.SSLError, OSError) as e:
            print("\t".join([name, "error", one_line(e), "error", "", "0"]),
                  flush=True)
            continue
        o = exchange(ctx, oracle.port, ping, b"+PONG")
        if o["port"]:
            ov, od = oracle.result(o["port"])
            if ov == "accept" and not o["reply"].startswith("+PONG"):
                ov, od = "refuse", "client side: " + (o["err"] or o["reply"])
        else:
            ov, od = "refuse", o["err"]
        rr = exchange(ctx, a.redtun_port, ping, b"+PONG")
        rv = "accept" if rr["reply"].startswith("+PONG") else "refuse"
        rd = rr["err"] or rr["reply"] or "no reply"
        print("\t".join([name, ov, od, rv, one_line(rd), str(rr["port"])]),
              flush=True)
    oracle.stop = True


def cmd_resume(a):
    ctxs, slots = {}, {}
    with open(a.plan) as f:
        lines = [l.rstrip("\n") for l in f]
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        w = line.split("\t")
        if w[0] == "ctx":
            name, kind = w[1], w[2]
            chain, key = (w[3], w[4]) if len(w) > 4 else (None, None)
            ver = "tls13" if kind == "tls13" else "tls12"
            ctxs[name] = client_ctx(a.server_ca, chain, key, ver,
                                    tickets=(kind != "tls12"))
        elif w[0] == "probe":
            label, ctxname, port, key = w[1], w[2], int(w[3]), w[4]
            opts = dict(o.split("=", 1) for o in w[5:])
            sess = slots.get(opts["use"]) if "use" in opts else None
            kb = key.encode()
            payload = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n" % (len(kb), kb)
            r = exchange(ctxs[ctxname], port, payload, b"+OK", sess)
            if "save" in opts and r["session"] is not None:
                slots[opts["save"]] = r["session"]
            ticket = "-"
            if r["session"] is not None:
                ticket = "1" if r["session"].has_ticket else "0"
            if "use" in opts and sess is None:
                r["err"] = (r["err"] + " (slot %s was empty)" % opts["use"]).strip()
            print("probe\t%s\ths=%s\treused=%s\treply=%s\tport=%d\toffered=%d"
                  "\tticket=%s\terr=%s" % (label, r["hs"], r["reused"],
                                           r["reply"], r["port"], r["offered"],
                                           ticket, r["err"]), flush=True)
        elif w[0] == "run":
            p = subprocess.run(["bash", "-c", w[1]], timeout=60)
            if p.returncode != 0:
                print("run-failed\t%s" % one_line(w[1]), flush=True)
                sys.exit(99)
        else:
            print("bad plan line: %s" % one_line(line), file=sys.stderr)
            sys.exit(99)


def cmd_hello(a):
    """A minimal TLS 1.2 ClientHello with an arbitrary server_name."""
    name = binascii.unhexlify(a.sni_hex)
    sni = struct.pack("!BH", 0, len(name)) + name
    sni = struct.pack("!H", len(sni)) + sni
    exts = struct.pack("!HH", 0, len(sni)) + sni
    # supported_groups (P-256) and signature_algorithms (ecdsa/rsa sha256)
    groups = struct.pack("!HH", 2, 0x0017)
    exts += struct.pack("!HH", 10, len(groups)) + groups
    sigs = struct.pack("!HHH", 4, 0x0403, 0x0401)
    exts += struct.pack("!HH", 13, len(sigs)) + sigs
    exts += struct.pack("!HHB", 11, 2, 1) + b"\x00"  # ec_point_formats
    suites = struct.pack("!HHHH", 6, 0xC02B, 0xC02F, 0xC02C)
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" + suites + b"\x01\x00" +
            struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    rec = b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs
    s = socket.create_connection(("127.0.0.1", a.port), timeout=3)
    print(s.getsockname()[1], flush=True)
    s.sendall(rec)
    try:
        s.recv(4096)  # the server's first flight, or its alert
    except OSError:
        pass
    s.close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("matrix")
    m.add_argument("--cases", required=True)
    m.add_argument("--server-ca", required=True)
    m.add_argument("--oracle-cert", required=True)
    m.add_argument("--oracle-key", required=True)
    m.add_argument("--client-ca", required=True)
    m.add_argument("--redtun-port", type=int, required=True)
    r = sub.add_parser("resume")
    r.add_argument("--plan", required=True)
    r.add_argument("--server-ca", required=True)
    h = sub.add_parser("hello")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--sni-hex", required=True)
    a = p.parse_args()
    {"matrix": cmd_matrix, "resume": cmd_resume, "hello": cmd_hello}[a.cmd](a)


if __name__ == "__main__":
    main()
