#!/usr/bin/python3
"""Real-client drivers for the redtun end-to-end tests (test-only).

Run with /usr/bin/python3: python3-redis is a Debian package, a pyenv
python3 earlier in PATH does not have it.

  redis_clients.py iso  --via raw|redispy --port P --ctl-port R [options]
      Client A leaves one kind of connection state behind and closes;
      client B then connects and must see a fresh connection. --mode:
        tunnel    A and B are separate connections to P (redtun with
                  reuse = true): B must get A's server connection (same
                  CLIENT ID) for a reusable state, another one for a
                  state RESET cannot clear or an unsynchronised close.
        separate  A and B are separate connections straight to P (no
                  reuse anywhere): always different CLIENT IDs.
        noreset   one socket to P, A's commands then B's checks: every
                  state check must FAIL (proves each check can fail).
        reset     one socket to P, RESET between A and B: the checks
                  pass, except NO-EVICT, which RESET keeps.
      Prints "KIND ok ..." or "KIND FAIL: why" per kind; exit 0 when all
      are ok (with --expect-fail: when every kind FAILED).
  redis_clients.py suite --port P [--password X]
      python3-redis basics through P: pipeline of 1000, pub/sub, BLPOP
      (timeout and satisfied), MULTI/EXEC and a WATCH abort, a pool of 20
      threads. Exit 0 when all passed.
  redis_clients.py readonly --port P --ctl-port R ...   (test/failover.sh)
      see cmd_writer: one long-lived connection writing until it fails.
"""
import argparse
import os
import socket
import ssl
import sys
import threading
import time

redis = None  # python3-redis, imported in main() unless not needed

# ---------------------------------------------------------------------------
# A minimal RESP2/RESP3 client over a plain or TLS socket.


class RespError(Exception):
    pass


class Raw:
    def __init__(self, port, host="127.0.0.1", cafile=None, timeout=5):
        s = socket.create_connection((host, port), timeout=timeout)
        if cafile:
            ctx = ssl.create_default_context(cafile=cafile)
            s = ctx.wrap_socket(s, server_hostname="localhost")
        self.s = s
        self.buf = b""

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send(self, *args):
        self.s.sendall(self.encode(*args))

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self):
        """One reply: (type byte, value); errors are returned, not raised."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-", b":", b",", b"(", b"#"):
            return t, rest
        if t == b"_":
            return t, None
        if t in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                return t, None
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return t, v
        if t in (b"*", b"~", b">", b"%", b"|"):
            n = int(rest)
            if n < 0:
                return t, None
            if t in (b"%", b"|"):
                n *= 2
            return t, [self.read() for _ in range(n)]
        raise RespError("bad reply line %r" % line)

    def call(self, *args):
        self.send(*args)
        return self.read()

    def pending(self, wait=0.1):
        """Bytes the server sent that nobody asked for."""
        self.s.settimeout(wait)
        try:
            self._fill()
        except (socket.timeout, ssl.SSLError, EOFError, OSError):
            pass
        self.s.settimeout(5)
        extra, self.buf = self.buf, b""
        return extra

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def plain(r):
    """RESP value without type tags (bytes -> str)."""
    t, v = r
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return v


# ---------------------------------------------------------------------------
# What client A leaves behind. "cmds" are sent in order; "noread" ones are
# sent without waiting for a reply. "reuse": redtun may give the server
# connection to the next client (False: RESET cannot clear it, or the close
# left the connection unsynchronised).

KINDS = {
    "select": dict(cmds=[("SELECT", "5")], reuse=True, nocluster=True),
    "multi": dict(cmds=[("MULTI",), ("SET", "iso:q", "1"), ("INCR", "iso:q")], reuse=True),
    "subscribe": dict(cmds=[("SUBSCRIBE", "iso:ch")], reuse=True),
    "psubscribe": dict(cmds=[("PSUBSCRIBE", "iso:p*")], reuse=True),
    "monitor": dict(cmds=[("MONITOR",)], reuse=True),
    "tracking": dict(cmds=[("CLIENT", "TRACKING", "on"), ("GET", "iso:k0")], reuse=True),
    "readonly": dict(cmds=[("READONLY",)], reuse=True, cluster=True),
    "auth": dict(cmds=[("AUTH", "@OTHER_USER", "@OTHER_PASS")], reuse=True),
    "hello3": dict(cmds=[("HELLO", "3")], reuse=True),
    "watch": dict(cmds=[("WATCH", "iso:w")], reuse=True),
    "setname": dict(cmds=[("CLIENT", "SETNAME", "alice")], reuse=True),
    "combo": dict(cmds=[("CLIENT", "SETNAME", "alice"), ("SELECT", "5"),
                        ("AUTH", "@OTHER_USER", "@OTHER_PASS"), ("HELLO", "3"),
                        ("CLIENT", "TRACKING", "on"), ("WATCH", "iso:w"),
                        ("MULTI",), ("SET", "iso:q", "1")], reuse=True, nocluster=True),
    "noevict": dict(cmds=[("CLIENT", "NO-EVICT", "on")], reuse=False),
    "blpop": dict(cmds=[("BLPOP", "iso:empty", "0")], noread=True, reuse=False, onesock=False),
    "partial": dict(raw_tail=b"*3\r\n$3\r\nSET\r\n$5\r\nis", reuse=False, onesock=False),
}
DEFAULT_KINDS = ["select", "multi", "subscribe", "psubscribe", "monitor", "tracking",
                 "auth", "hello3", "watch", "setname", "combo", "noevict", "blpop",
                 "partial"]


def subst(cmd, o):
    return tuple(o.other_user if a == "@OTHER_USER" else
                 o.other_pass if a == "@OTHER_PASS" else a for a in cmd)


class Ctl:
    """Control connection straight to the upstream redis (TLS)."""

    def __init__(self, o):
        self.r = Raw(o.ctl_port, cafile=o.cacert)
        if o.ctl_pass:
            t, v = self.r.call("AUTH", o.ctl_pass)
            if t != b"+":
                raise SystemExit("ctl AUTH failed: %r" % v)

    def call(self, *a):
        return self.r.call(*a)

    def client(self, cid):
        """CLIENT LIST fields of connection cid, or None when gone."""
        t, v = self.r.call("CLIENT", "LIST", "ID", str(cid))
        for line in (v or b"").decode().splitlines():
            f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            if f.get("id") == str(cid):
                return f
        return None

    def seed(self, cluster):
        c = self.call
        c("SET", "iso:k0", "v0")
        c("HSET", "iso:h", "f", "v")
        for key in ("iso:q", "iso:w", "iso:wx", "iso:empty"):
            c("DEL", key)  # one by one: a cluster refuses CROSSSLOT
        if not cluster:
            c("SELECT", "5")
            c("SET", "iso:k5", "v5")
            c("SELECT", "0")
            c("DEL", "iso:k5")

    def wait_settled(self, cid, reuse, o):
        """After A closed: wait (bounded) until redtun parked A's server
        connection (RESET done, back to the service's user) or closed it."""
        want_cmd = {"reset", "auth"} if o.park_auth else {"reset"}
        deadline = time.time() + 5
        while time.time() < deadline:
            f = self.client(cid)
            if f is None:
                return "gone"
            if reuse and f.get("cmd") in want_cmd and f.get("user") == o.user \
                    and f.get("db") == "0" and f.get("sub") == "0" \
                    and f.get("multi") == "-1" and "O" not in f.get("flags", ""):
                time.sleep(0.08)  # redtun reads +RESET/+OK, then parks it
                return "parked"
            time.sleep(0.02)
        return "timeout"


# --- client A -----------------------------------------------------------


def a_raw(o, kind, sock=None):
    k = KINDS[kind]
    c = sock or Raw(o.port, cafile=o.cacert if o.tls else None)
    t, cid = c.call("CLIENT", "ID")
    if t != b":":
        raise RespError("CLIENT ID: %r" % cid)
    for cmd in k.get("cmds", []):
        c.send(*subst(cmd, o))
        if not k.get("noread"):
            t, v = c.read()
            if t == b"-":
                raise RespError("A %s: %r" % (cmd, v))
    if "raw_tail" in k:
        c.s.sendall(k["raw_tail"])
    if k.get("noread"):
        time.sleep(0.2)  # the server has it (blocked) before A leaves
    if sock is None:
        c.close()
    return int(cid)


def redispy_conn(o, direct_tls):
    kw = dict(host="127.0.0.1", port=o.port, socket_timeout=5)
    if direct_tls:
        kw.update(ssl=True, ssl_ca_certs=o.cacert)
    return kw


def a_redispy(o, kind, keep=None):
    """Client A with python3-redis's own connection and protocol code;
    keep: a list to put the still open connection in (mode noreset)."""
    k = KINDS[kind]
    kw = redispy_conn(o, o.tls)
    kw["decode_responses"] = True
    if kw.pop("ssl", False):
        conn = redis.SSLConnection(**kw)
    else:
        kw.pop("ssl_ca_certs", None)
        conn = redis.Connection(**kw)
    conn.connect()
    conn.send_command("CLIENT", "ID")
    cid = conn.read_response()
    for cmd in k.get("cmds", []):
        cmd = subst(cmd, o)
        conn.send_command(*cmd)
        if k.get("noread") or cmd[0] == "HELLO":
            # redis-py 4 parses RESP2 only: HELLO 3's map is not read.
            time.sleep(0.2)
            if cmd[0] == "HELLO":
                break  # later commands would be answered in RESP3
            continue
        conn.read_response()
    if "raw_tail" in k:
        conn._sock.sendall(k["raw_tail"])
        time.sleep(0.1)
    if keep is not None:
        keep.append(conn)
    else:
        conn.disconnect()  # a plain close: no QUIT, no UNSUBSCRIBE
    return int(cid)


# --- client B's checks ------------------------------------------------------


def b_checks_raw(o, c, ctl, cluster, nonce):
    """Every check B makes; returns the list of failures."""
    bad = []

    def expect(what, got, want):
        if got != want:
            bad.append("%s: got %r, want %r" % (what, got, want))

    t, bid = c.call("CLIENT", "ID")
    # Pokes from outside: any subscription, MONITOR or WATCH left on this
    # connection now has something to deliver or to break.
    expect("PUBLISH iso:ch receivers", ctl.call("PUBLISH", "iso:ch", "m"), (b":", b"0"))
    expect("PUBLISH iso:p1 receivers", ctl.call("PUBLISH", "iso:p1", "m"), (b":", b"0"))
    ctl.call("SET", "iso:w", nonce)
    expect("ECHO (first reply, exact)", c.call("ECHO", nonce), (b"$", nonce.encode()))
    expect("GET iso:k0 (db 0)", c.call("GET", "iso:k0"), (b"$", b"v0"))
    if not cluster:
        expect("GET iso:k5 (set in db 5 only)", c.call("GET", "iso:k5"), (b"$", None))
    t, v = c.call("EXEC")
    if t != b"-" or b"EXEC without MULTI" not in v:
        bad.append("EXEC: got %r %r, want ERR EXEC without MULTI" % (t, v))
    expect("GET iso:q (A's queued SET never ran)", c.call("GET", "iso:q"), (b"$", None))
    expect("ACL WHOAMI", c.call("ACL", "WHOAMI"), (b"$", o.user.encode()))
    expect("CLIENT GETNAME", c.call("CLIENT", "GETNAME"), (b"$", None))
    t, v = c.call("HGETALL", "iso:h")
    expect("HGETALL reply type (RESP2 array)", t, b"*")
    t, v = c.call("CLIENT", "TRACKINGINFO")
    info = plain((t, v))
    flags = info[info.index("flags") + 1] if isinstance(info, list) and "flags" in info else info
    expect("CLIENT TRACKINGINFO flags", flags, ["off"])
    t, v = c.call("CLIENT", "INFO")
    f = dict(kv.split("=", 1) for kv in (v or b"").decode().split() if "=" in kv)
    for key, want in (("db", "0"), ("sub", "0"), ("psub", "0"), ("multi", "-1"),
                      ("resp", "2"), ("name", ""), ("flags", "N"), ("user", o.user)):
        expect("CLIENT INFO %s" % key, f.get(key), want)
    # WATCH left by A would abort this transaction (iso:w changed above).
    c.send("MULTI")
    c.send("SET", "iso:wx", "1")
    c.send("EXEC")
    replies = [c.read(), c.read(), c.read()]
    expect("MULTI/SET/EXEC after iso:w changed", replies,
           [(b"+", b"OK"), (b"+", b"QUEUED"), (b"*", [(b"+", b"OK")])])
    ctl.call("SET", "iso:poke", nonce)  # MONITOR output, if any
    expect("PING", c.call("PING"), (b"+", b"PONG"))
    extra = c.pending()
    if extra:
        bad.append("unsolicited bytes: %r" % extra[:200])
    return (int(bid) if isinstance(bid, bytes) and bid.isdigit() else None), bad


def b_checks_redispy(o, ctl, cluster, nonce, conn=None):
    """B's checks with the python3-redis API; conn: A's connection, to
    run them on (mode noreset), else B connects."""
    bad = []

    def expect(what, got, want):
        if got != want:
            bad.append("%s: got %r, want %r" % (what, got, want))

    kw = redispy_conn(o, o.tls)
    if not o.tls:
        kw.pop("ssl_ca_certs", None)
    r = redis.Redis(single_connection_client=True, decode_responses=True, **kw)
    if conn is not None:
        r.connection.disconnect()
        r.connection = conn
    try:
        bid = r.client_id()
        expect("PUBLISH iso:ch receivers", ctl.call("PUBLISH", "iso:ch", "m"), (b":", b"0"))
        expect("PUBLISH iso:p1 receivers", ctl.call("PUBLISH", "iso:p1", "m"), (b":", b"0"))
        ctl.call("SET", "iso:w", nonce)
        expect("ECHO", r.echo(nonce), nonce)
        expect("GET iso:k0 (db 0)", r.get("iso:k0"), "v0")
        if not cluster:
            expect("GET iso:k5", r.get("iso:k5"), None)
        try:
            r.execute_command("EXEC")
            bad.append("EXEC: no error")
        except redis.ResponseError as e:
            if "EXEC without MULTI" not in str(e):
                bad.append("EXEC: %s" % e)
        expect("GET iso:q", r.get("iso:q"), None)
        expect("ACL WHOAMI", r.acl_whoami(), o.user)
        expect("CLIENT GETNAME", r.client_getname(), None)
        expect("HGETALL", r.hgetall("iso:h"), {"f": "v"})
        ti = r.execute_command("CLIENT", "TRACKINGINFO")
        flags = ti[ti.index("flags") + 1] if isinstance(ti, list) and "flags" in ti else ti
        expect("CLIENT TRACKINGINFO flags", flags, ["off"])
        f = r.client_info()
        for key, want in (("db", 0), ("sub", 0), ("psub", 0), ("multi", -1),
                          ("resp", 2), ("name", ""), ("flags", "N"), ("user", o.user)):
            got = f.get(key)
            if isinstance(want, int):
                try:
                    got = int(got)
                except (TypeError, ValueError):
                    pass
            expect("CLIENT INFO %s" % key, got, want)
        # (Not r.pipeline(): that takes another connection from the pool.)
        got = [r.execute_command("MULTI"), r.execute_command("SET", "iso:wx", "1"),
               r.execute_command("EXEC")]
        # (redis-py's SET callback turns +QUEUED into False.)
        expect("MULTI/SET/EXEC after iso:w changed", [got[0], got[2]], ["OK", ["OK"]])
        ctl.call("SET", "iso:poke", nonce)
        expect("PING", r.ping(), True)
        time.sleep(0.15)
        if r.connection._sock is not None and r.connection.can_read(timeout=0):
            bad.append("unsolicited data on the connection")
    except (redis.RedisError, ValueError, IndexError) as e:
        bad.append("exception: %r" % e)
        bid = None
    finally:
        # Redis.close() only returns the connection to the pool: close the
        # socket, so redtun sees B leave now.
        conn = r.connection
        r.close()
        if conn is not None:
            conn.disconnect()
        r.connection_pool.disconnect()
    return bid, bad


def cmd_iso(o):
    kinds = o.kinds.split(",") if o.kinds else DEFAULT_KINDS
    ctl = Ctl(o)
    cluster = o.cluster
    ctl.seed(cluster)
    if cluster:
        kinds = [k for k in kinds if not KINDS[k].get("nocluster")]
    elif "readonly" in kinds:
        kinds.remove("readonly")
    results = {}
    for kind in kinds:
        k = KINDS[kind]
        if o.mode in ("noreset", "reset") and k.get("onesock") is False:
            continue
        nonce = "n%d%s" % (os.getpid(), kind)
        ctl.call("DEL", "iso:q")
        ctl.call("DEL", "iso:wx")
        why, note, bid = [], "", None
        t0 = time.time()
        try:
            if o.mode == "noreset" and o.via == "redispy":
                keep = []
                aid = a_redispy(o, kind, keep=keep)
                ctl.call("SET", "iso:w", "x")
                bid, bad = b_checks_redispy(o, ctl, cluster, nonce, conn=keep[0])
                keep[0].disconnect()
                want_same = True
            elif o.mode in ("noreset", "reset"):
                c = Raw(o.port, cafile=o.cacert if o.tls else None)
                aid = a_raw(o, kind, sock=c)
                if o.mode == "reset":
                    c.send("RESET")
                    # Replies A's state produced, then +RESET.
                    for _ in range(100):
                        if c.read() == (b"+", b"RESET"):
                            break
                ctl.call("SET", "iso:w", "x")  # dirties a surviving WATCH
                bid, bad = b_checks_raw(o, c, ctl, cluster, nonce)
                c.close()
                want_same = True
            else:
                aid = a_raw(o, kind) if o.via == "raw" else a_redispy(o, kind)
                if o.mode == "tunnel":
                    note = ctl.wait_settled(aid, k["reuse"], o)
                # A surviving WATCH must see a change before B's transaction.
                ctl.call("SET", "iso:w", "x")
                if o.via == "raw":
                    c = Raw(o.port, cafile=o.cacert if o.tls else None)
                    bid, bad = b_checks_raw(o, c, ctl, cluster, nonce)
                    c.close()
                else:
                    bid, bad = b_checks_redispy(o, ctl, cluster, nonce)
                want_same = o.mode == "tunnel" and k["reuse"]
            if o.mode == "reset" and not k["reuse"]:
                # RESET cannot clear this state: B must see it (which is
                # why redtun must not reuse such a connection).
                bad = [] if bad else ["RESET cleared it (expected it to survive)"]
            why += bad
            same = aid == bid
            if o.loose_id and want_same:
                pass  # workers > 1: B may get another worker's kept connection
            elif same != want_same:
                why.append("CLIENT ID A=%s B=%s: want %s" % (aid, bid, "same" if want_same else "different"))
        except (RespError, EOFError, OSError) as e:
            why.append("exception: %r" % e)
            same = None
        if o.mode == "tunnel" and bid is not None:
            # B's connection parked before the next A: one idle connection
            # at a time, so the next B can only get the next A's.
            ctl.wait_settled(bid, True, o)
        results[kind] = why
        ms = (time.time() - t0) * 1000
        if why:
            print("%s FAIL (%d ms): %s" % (kind, ms, "; ".join(why)), flush=True)
        else:
            print("%s ok (%s server connection%s, %d ms)" % (
                kind, "same" if same else "another", ", " + note if note else "", ms), flush=True)
    failed = [k for k, w in results.items() if w]
    if o.expect_fail:
        caught = len(failed) == len(results)
        print("detected %d/%d" % (len(failed), len(results)))
        return 0 if caught else 1
    print("passed %d/%d" % (len(results) - len(failed), len(results)))
    return 0 if not failed and results else 1


# ---------------------------------------------------------------------------
# The python3-redis suite (test/real-clients.sh).


def cmd_suite(o):
    kw = dict(host="127.0.0.1", port=o.port, socket_timeout=10, decode_responses=True)
    if o.password:
        kw["password"] = o.password
    if o.username:
        kw["username"] = o.username
    r = redis.Redis(**kw)
    ok = []

    def check(name, cond, detail=""):
        print("%s %s%s" % (name, "ok" if cond else "FAIL", (": " + str(detail)) if not cond else ""), flush=True)
        ok.append(bool(cond))

    # Pipeline: 1000 commands in one round trip.
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set("rc:p:%d" % i, i)
    p.get("rc:p:999")
    p.incrby("rc:ctr", 0)
    res = p.execute()
    check("pipeline-1000", len(res) == 1002 and all(x is True for x in res[:1000])
          and res[1000] == "999", res[-3:])
    check("pipeline-read", r.mget(["rc:p:%d" % i for i in range(0, 1000, 100)])
          == [str(i) for i in range(0, 1000, 100)])

    # Pub/sub: subscribe, publish from another client, receive.
    ps = r.pubsub()
    ps.subscribe("rc:ch")
    first = ps.get_message(timeout=5)
    r2 = redis.Redis(**kw)
    n = r2.publish("rc:ch", "hello")
    msg = None
    deadline = time.time() + 5
    while time.time() < deadline:
        msg = ps.get_message(timeout=1)
        if msg and msg["type"] == "message":
            break
    check("pubsub", first and first["type"] == "subscribe" and n == 1 and msg
          and msg["data"] == "hello", (first, n, msg))
    ps.psubscribe("rc:p*")
    ps.get_message(timeout=5)
    r2.publish("rc:px", "pat")
    msg = None
    deadline = time.time() + 5
    while time.time() < deadline:
        msg = ps.get_message(timeout=1)
        if msg and msg["type"] == "pmessage":
            break
    check("psubscribe", msg and msg["data"] == "pat" and msg["channel"] == "rc:px", msg)
    ps.close()

    # Blocking pops.
    r.delete("rc:list")
    t0 = time.time()
    v = r.blpop("rc:list", timeout=1)
    dt = time.time() - t0
    check("blpop-timeout", v is None and 0.8 < dt < 4, (v, dt))
    threading.Timer(0.3, lambda: r2.rpush("rc:list", "pushed")).start()
    t0 = time.time()
    v = r.blpop("rc:list", timeout=5)
    dt = time.time() - t0
    check("blpop-satisfied", v == ("rc:list", "pushed") and dt < 4, (v, dt))

    # Transactions.
    p = r.pipeline(transaction=True)
    p.set("rc:t", "1").incr("rc:t").get("rc:t")
    check("multi-exec", p.execute() == [True, 2, "2"])
    aborted = False
    with r.pipeline(transaction=True) as p:
        p.watch("rc:t")
        r2.set("rc:t", "changed")  # another client changes the watched key
        p.multi()
        p.set("rc:t", "mine")
        try:
            p.execute()
        except redis.WatchError:
            aborted = True
    check("watch-abort", aborted and r.get("rc:t") == "changed")

    # A pool shared by 20 threads.
    pool = redis.ConnectionPool(max_connections=20, **kw)
    errors = []

    def worker(n):
        try:
            rr = redis.Redis(connection_pool=pool)
            for i in range(50):
                rr.incr("rc:pool")
                if rr.set("rc:t%d" % n, i) is not True or rr.get("rc:t%d" % n) != str(i):
                    errors.append("thread %d: mismatch" % n)
        except redis.RedisError as e:
            errors.append("thread %d: %r" % (n, e))

    r.delete("rc:pool")
    ts = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    check("pool-20-threads", not errors and r.get("rc:pool") == "1000", (errors[:3], r.get("rc:pool")))
    pool.disconnect()
    r2.close()
    r.close()
    print("passed %d/%d" % (sum(ok), len(ok)))
    return 0 if all(ok) else 1


# ---------------------------------------------------------------------------
# test/failover.sh: a long-lived writer, and a one-shot connection.


def cmd_writer(o):
    """One long-lived python3-redis connection that writes every 50 ms.
    Prints one line per event: "ok N" every 20 writes, "READONLY ..." on
    a -READONLY reply, "closed ..." when the connection then fails. Runs
    until closed after a READONLY, or --seconds; exit 0."""
    kw = dict(host="127.0.0.1", port=o.port, socket_timeout=5, decode_responses=True,
              retry_on_timeout=False)
    if o.password:
        kw["password"] = o.password
    conn = redis.Connection(**kw)
    conn.connect()
    deadline = time.time() + o.seconds
    i = readonly = 0
    while time.time() < deadline:
        i += 1
        try:
            conn.send_command("SET", "fo:w", i)
            conn.read_response()
            if i % 20 == 0:
                print("ok %d" % i, flush=True)
        except redis.ReadOnlyError as e:
            readonly += 1
            print("READONLY %d %s" % (i, e), flush=True)
        except redis.ResponseError as e:
            if "READONLY" in str(e):
                readonly += 1
                print("READONLY %d %s" % (i, e), flush=True)
            else:
                print("error %d %s" % (i, e), flush=True)
        except (redis.ConnectionError, OSError) as e:
            print("closed %d after %d READONLY: %s" % (i, readonly, type(e).__name__), flush=True)
            return 0
        time.sleep(0.05)
    print("timeout %d" % i, flush=True)
    return 0


def cmd_oneshot(o):
    """A new python3-redis connection: ROLE, then a write. Prints
    "role=<role> set=<ok|error text>" or "error: ..."."""
    kw = dict(host="127.0.0.1", port=o.port, socket_timeout=o.seconds,
              socket_connect_timeout=o.seconds, decode_responses=True)
    if o.password:
        kw["password"] = o.password
    r = redis.Redis(**kw)
    t0 = time.time()
    try:
        role = r.execute_command("ROLE")[0]
        try:
            s = "ok" if r.set("fo:new", "1") else "false"
        except redis.RedisError as e:
            s = "error " + str(e)
        print("role=%s set=%s ms=%d" % (role, s, (time.time() - t0) * 1000))
    except redis.RedisError as e:
        print("error: %s: %s ms=%d" % (type(e).__name__, e, (time.time() - t0) * 1000))
    r.close()
    return 0


def cmd_settle(o):
    """For shell clients: wait until redtun parked (--reuse) or closed
    server connection --id; prints parked, gone or timeout."""
    o.user = o.user or "default"
    print(Ctl(o).wait_settled(o.id, o.reuse, o))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("iso")
    a.add_argument("--via", choices=["raw", "redispy"], default="raw")
    a.add_argument("--mode", choices=["tunnel", "separate", "noreset", "reset"], default="tunnel")
    a.add_argument("--port", type=int, required=True)
    a.add_argument("--tls", action="store_true", help="--port is a TLS redis")
    a.add_argument("--ctl-port", type=int, required=True)
    a.add_argument("--ctl-pass", default="")
    a.add_argument("--cacert", required=True)
    a.add_argument("--user", default="default", help="ACL WHOAMI B must see")
    a.add_argument("--park-auth", action="store_true",
                   help="redtun re-authenticates after RESET (username set)")
    a.add_argument("--other-user", default="other")
    a.add_argument("--other-pass", default="otherpass")
    a.add_argument("--cluster", action="store_true", help="upstream is cluster-enabled")
    a.add_argument("--kinds", default="")
    a.add_argument("--expect-fail", action="store_true")
    a.add_argument("--loose-id", action="store_true",
                   help="redtun has several workers (a pool each): do not "
                   "require B to get A's own connection")
    t = sub.add_parser("settle")
    t.add_argument("--id", type=int, required=True)
    t.add_argument("--reuse", action="store_true")
    t.add_argument("--ctl-port", type=int, required=True)
    t.add_argument("--ctl-pass", default="")
    t.add_argument("--cacert", required=True)
    t.add_argument("--user", default="default")
    t.add_argument("--park-auth", action="store_true")
    s = sub.add_parser("suite")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--password", default="")
    s.add_argument("--username", default="")
    for name in ("writer", "oneshot"):
        w = sub.add_parser(name)
        w.add_argument("--port", type=int, required=True)
        w.add_argument("--password", default="")
        w.add_argument("--seconds", type=float, default=20)
    o = ap.parse_args()
    global redis
    if o.cmd != "settle":
        try:
            import redis as _redis
            redis = _redis
        except ImportError:  # the raw parts work without the library
            pass
    if redis is None and not (o.cmd == "settle" or o.cmd == "iso" and o.via == "raw"):
        print("python3-redis is missing (apt-get install python3-redis)", file=sys.stderr)
        return 77
    return {"iso": cmd_iso, "suite": cmd_suite, "settle": cmd_settle, "writer": cmd_writer,
            "oneshot": cmd_oneshot}[o.cmd](o)


if __name__ == "__main__":
    sys.exit(main())
