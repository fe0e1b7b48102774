#!/usr/bin/python3
"""python3-redis RedisCluster drivers for the cluster tests (test-only;
private network namespace only: run by test/cluster-*.sh under netns_reexec).

Run with /usr/bin/python3 (python3-redis is a Debian package). Every
command enters the cluster at --host:--port: 127.0.0.1:6379 through
redtun, or, with --cacert, a node straight over TLS (to check the
harness itself). Exit 0 on success, 1 on a failed check.

  cluster_clients.py suite --port P
      SET/GET of 1000 keys in pipelines, scan_iter over every primary,
      MGET per slot through a pipeline, the client's node list; prints
      "NAME ok|FAIL ..." per check and "nodes HOST:PORT ...".
  cluster_clients.py writer --port P --seconds S --out FILE
      One client writes fo:N = N (N = 0, 1, ...) until S seconds pass or
      FILE.stop exists. A failed SET is retried with the same N (after
      20 ms) until it succeeds: so an outage of any shard stops the writer
      until it is over. FILE gets "ok N T" per acknowledged write and
      "err N T MESSAGE" per error, T = time.time().
  cluster_clients.py check --port P --acked FILE [--prefix fo]
      Every key FILE says was acknowledged reads back its value; prints
      "checked N missing M wrong W".
  cluster_clients.py rw --port P --seconds S [--prefix X] [--out FILE]
      Reads and writes rw:N keys (a SET, then a GET of an earlier key
      that must have its value) until S seconds pass or FILE.stop exists;
      prints "rw ops N errors E bad B" (bad: a GET that returned a wrong
      value: a lost or misrouted write).
  cluster_clients.py topo --port P [--id NODEID] [--expect-nodes N]
      CLUSTER SLOTS, SHARDS, NODES and REPLICAS ID (when --id) over one
      raw connection, in RESP2 and then RESP3 (HELLO 3), checked by their
      structure: every node's host, IP, endpoint and host name is
      127.0.0.1, every port is in 17001-17020, tls-port is absent or 0,
      and no reply names *.cluster.test or 127.0.1.x. Prints one line a
      reply; with --expect-nodes, SLOTS, SHARDS and NODES must name N
      nodes. Each in three ways: one by one, pipelined, and inside
      MULTI/EXEC; with --moved-key K (a key the main port's node does not
      serve), GET K pipelined between PINGs and queued in MULTI must get
      MOVED naming 127.0.0.1 and a port of 17001-17020.
"""
import argparse
import logging
import os
import sys
import time

import redis
from redis.cluster import RedisCluster


class Redirects(logging.Handler):
    """Counts the redirects redis-py logs (MovedError, AskError) instead
    of printing its tracebacks."""
    def __init__(self):
        super().__init__()
        self.moved = self.ask = 0

    def emit(self, record):
        m = record.getMessage()
        if "Moved" in m:
            self.moved += 1
        elif "Ask" in m:
            self.ask += 1


REDIRECTS = Redirects()
logging.getLogger("redis").addHandler(REDIRECTS)
logging.getLogger("redis").propagate = False


def connect(o, **kw):
    args = dict(host=o.host, port=o.port, decode_responses=True,
                socket_timeout=5, socket_connect_timeout=5)
    if o.cacert:
        args.update(ssl=True, ssl_ca_certs=o.cacert)
    args.update(kw)
    return RedisCluster(**args)


def cmd_suite(o):
    rc = connect(o)
    ok = True

    def check(name, cond, detail=""):
        nonlocal ok
        ok = ok and bool(cond)
        print("%s %s" % (name, "ok" if cond else "FAIL: %r" % (detail,)), flush=True)

    n = 1000
    p = rc.pipeline()
    for i in range(n):
        p.set("py:%d" % i, "v%d" % i)
    res = p.execute()
    check("pipeline-set-%d" % n, len(res) == n and all(r is True for r in res),
          [r for r in res if r is not True][:3])
    p = rc.pipeline()
    for i in range(n):
        p.get("py:%d" % i)
    res = p.execute()
    bad = [(i, r) for i, r in enumerate(res) if r != "v%d" % i]
    check("pipeline-get-%d" % n, not bad, bad[:3])
    # Keys spread over every shard (so every primary's port was used).
    slots = {rc.keyslot("py:%d" % i) for i in range(n)}
    check("slots-spread", len(slots) > 900, len(slots))
    got = set(rc.scan_iter(match="py:*", count=200))
    check("scan-iter-all-nodes", len(got) == n, len(got))
    # The client's view of the cluster: only local listeners.
    nodes = sorted("%s:%s" % (x.host, x.port) for x in rc.get_nodes())
    print("nodes " + " ".join(nodes), flush=True)
    prims = rc.get_primaries()
    check("primaries", len(prims) >= 3, len(prims))
    if not o.cacert:
        far = [x for x in nodes if not x.startswith("127.0.0.1:")]
        check("nodes-local", not far, far)
    # Hash tags: a multi-key command in one slot, through a pipeline.
    rc.mset({"{tag}a": "1", "{tag}b": "2"})
    check("mget-hashtag", rc.mget("{tag}a", "{tag}b") == ["1", "2"])
    # DBSIZE summed over primaries equals what was written (plus {tag}).
    total = rc.dbsize(target_nodes=RedisCluster.PRIMARIES)
    if isinstance(total, dict):
        total = sum(total.values())
    check("dbsize-primaries", total >= n + 2, total)
    rc.close()
    return 0 if ok else 1


def stopped(out):
    return out and os.path.exists(out + ".stop")


def cmd_writer(o):
    rc = None
    f = open(o.out, "a", buffering=1)
    end = time.time() + o.seconds
    i = 0
    while time.time() < end and not stopped(o.out):
        try:
            if rc is None:
                rc = connect(o, cluster_error_retry_attempts=1)
            if rc.set("fo:%d" % i, str(i)):
                # Redis replicates asynchronously: a write kill -9 can
                # lose is "okn" (acknowledged, no replica confirmed it
                # within 100 ms), not checked afterwards.
                node = rc.get_node_from_key("fo:%d" % i)
                n = rc.execute_command("WAIT", 1, 100, target_nodes=node)
                f.write("%s %d %.3f\n" % ("ok" if n else "okn", i, time.time()))
                i += 1
            else:
                f.write("err %d %.3f SET returned false\n" % (i, time.time()))
        except Exception as e:  # noqa: BLE001 - every error is a figure
            msg = ("%s: %s" % (type(e).__name__, e)).replace("\n", " ")[:200]
            f.write("err %d %.3f %s\n" % (i, time.time(), msg))
            if isinstance(e, redis.exceptions.RedisClusterException) and rc is None:
                time.sleep(0.2)
            time.sleep(0.02)
    f.write("end %d %.3f\n" % (i, time.time()))
    return 0


def cmd_check(o):
    rc = connect(o)
    acked, when = [], {}
    with open(o.acked) as f:
        for line in f:
            w = line.split()
            if w and w[0] == "ok":
                acked.append(int(w[1]))
                when[int(w[1])] = w[2]
    missing = wrong = 0
    for k in range(0, len(acked), 500):
        part = acked[k:k + 500]
        p = rc.pipeline()
        for i in part:
            p.get("%s:%d" % (o.prefix, i))
        for i, v in zip(part, p.execute()):
            if v is None:
                missing += 1
                if missing <= 5:
                    print("missing %s:%d (acknowledged at %s)" % (o.prefix, i, when[i]))
            elif v != str(i):
                wrong += 1
    print("checked %d missing %d wrong %d" % (len(acked), missing, wrong))
    return 0 if acked and missing == 0 and wrong == 0 else 1


def cmd_rw(o):
    rc = None
    end = time.time() + o.seconds
    ops = errors = bad = 0
    i = 0
    first_err = ""
    while time.time() < end and not stopped(o.out):
        try:
            if rc is None:
                rc = connect(o)
            rc.set("%s:%d" % (o.prefix, i), str(i))
            j = (i * 7919) % (i + 1)
            v = rc.get("%s:%d" % (o.prefix, j))
            if v != str(j):
                bad += 1
                if bad <= 5:
                    print("bad %s:%d = %r" % (o.prefix, j, v), flush=True)
            ops += 2
            i += 1
        except Exception as e:  # noqa: BLE001
            errors += 1
            if not first_err:
                first_err = ("%s: %s" % (type(e).__name__, e))[:200]
            time.sleep(0.05)
    # Every key written reads back afterwards.
    lost = 0
    if rc is not None:
        for k in range(0, i, 500):
            p = rc.pipeline()
            for n in range(k, min(i, k + 500)):
                p.get("%s:%d" % (o.prefix, n))
            for n, v in zip(range(k, min(i, k + 500)), p.execute()):
                if v != str(n):
                    lost += 1
    print("rw ops %d keys %d errors %d bad %d lost %d moved %d ask %d%s" % (
        ops, i, errors, bad, lost, REDIRECTS.moved, REDIRECTS.ask,
        (" first-error " + first_err) if first_err else ""),
        flush=True)
    return 0 if ops > 0 and bad == 0 and lost == 0 else 1


def _s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def _val(r):
    """Raw.read() tree -> python values (maps as lists of pairs)."""
    t, v = r
    if t in (b"*", b"~", b">"):
        return [_val(x) for x in v]
    if t in (b"%", b"|"):
        return [(_val(v[i]), _val(v[i + 1])) for i in range(0, len(v), 2)]
    if t == b"-" or t == b"!":
        raise RuntimeError("error reply: " + _s(v))
    if v is None:
        return None
    if t == b":":
        return int(v)
    if t == b"=":
        return _s(v)[4:]  # verbatim "txt:"
    return _s(v)


def _pairs(x):
    """A RESP2 flat [k, v, k, v] list or a RESP3 map, as a dict."""
    if x and isinstance(x[0], tuple):
        return dict(x)
    return {x[i]: x[i + 1] for i in range(0, len(x), 2)}


def cmd_topo(o):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from redis_clients import Raw
    problems = []

    def port_ok(what, p):
        try:
            p = int(p)
        except (TypeError, ValueError):
            problems.append("%s: port %r" % (what, p))
            return
        if not 17001 <= p <= 17020:
            problems.append("%s: port %d not in 17001-17020" % (what, p))

    def host_ok(what, h):
        if h not in ("127.0.0.1", "", "?"):
            problems.append("%s: host %r" % (what, h))

    def nodes_line(what, line):
        w = line.split()
        if len(w) < 8:
            problems.append("%s: short line %r" % (what, line))
            return
        addr = w[1]  # ip:port@cport[,hostname]
        hp, _, rest = addr.partition("@")
        ip, _, port = hp.rpartition(":")
        host_ok(what + " ip", ip)
        port_ok(what, port)
        if "," in rest:
            host_ok(what + " hostname", rest.split(",", 1)[1])

    cmds = [("SLOTS", ("CLUSTER", "SLOTS")), ("SHARDS", ("CLUSTER", "SHARDS")),
            ("NODES", ("CLUSTER", "NODES"))]
    if o.id:
        cmds.append(("REPLICAS", ("CLUSTER", "REPLICAS", o.id)))

    def bytes_ok(what, r):
        text = repr(r)
        for bad in (".cluster.test", "127.0.1."):
            if bad in text:
                problems.append("%s names %s" % (what, bad))

    def moved_ok(what, r):
        t, v = r
        v = _s(v)
        if t not in (b"-", b"!") or not (v.startswith("MOVED ") or v.startswith("ASK ")):
            problems.append("%s: not a redirect: %r" % (what, r))
            return
        hp = v.split()[-1]
        host, _, port = hp.rpartition(":")
        host_ok(what, host)
        port_ok(what, port)

    def get_frames(raw, mode, what):
        """The replies to cmds: one by one, pipelined, or inside MULTI/EXEC."""
        if mode == "one-by-one":
            return {name: raw.call(*args) for name, args in cmds}
        if mode == "pipelined":
            for _, args in cmds:
                raw.send(*args)
            return {name: raw.read() for name, _ in cmds}
        raw.send("MULTI")
        for _, args in cmds:
            raw.send(*args)
        raw.send("EXEC")
        queued = [raw.read() for _ in range(len(cmds) + 1)]
        if any(t in (b"-", b"!") for t, _ in queued):
            problems.append("%s: MULTI: %r" % (what, queued))
        t, v = raw.read()
        if t != b"*" or len(v) != len(cmds):
            problems.append("%s: EXEC reply %r" % (what, (t, v)))
            return None
        return {name: r for (name, _), r in zip(cmds, v)}

    for proto in (2, 3):
        for mode in ("one-by-one", "pipelined", "multi-exec"):
            what = "RESP%d %s" % (proto, mode)
            raw = Raw(o.port, host=o.host)
            if proto == 3:
                t, v = raw.call("HELLO", "3")
                if t in (b"-", b"!"):
                    problems.append("HELLO 3: " + _s(v))
                    break
            frames = get_frames(raw, mode, what)
            if frames is None:
                raw.close()
                continue
            for name, r in frames.items():
                bytes_ok("%s %s" % (what, name), r)
            slots = _val(frames["SLOTS"])
            slot_nodes = set()
            for rng in slots:
                for node in rng[2:]:
                    slot_nodes.add((node[0], node[1]))
                    host_ok(what + " SLOTS", node[0])
                    port_ok(what + " SLOTS", node[1])
                    if len(node) > 3 and node[3]:
                        meta = _pairs(node[3])
                        for k in ("ip", "hostname"):
                            if k in meta:
                                host_ok(what + " SLOTS " + k, meta[k])
            shards = _val(frames["SHARDS"])
            nshard_nodes = 0
            for sh in shards:
                for node in _pairs(sh).get("nodes", []):
                    nshard_nodes += 1
                    m = _pairs(node)
                    for k in ("ip", "endpoint", "hostname"):
                        if k in m:
                            host_ok(what + " SHARDS " + k, m[k])
                    if "port" not in m:
                        problems.append(what + " SHARDS: a node without port: %r" % (m,))
                    else:
                        port_ok(what + " SHARDS", m["port"])
                    if m.get("tls-port", 0) not in (0, "0"):
                        problems.append(what + " SHARDS: tls-port %r" % (m["tls-port"],))
            nodes = _val(frames["NODES"])
            lines = [x for x in nodes.splitlines() if x.strip()]
            for line in lines:
                nodes_line(what + " NODES", line)
            if o.id:
                for line in _val(frames["REPLICAS"]):
                    nodes_line(what + " REPLICAS", line)
            nslot_nodes = len(slot_nodes)
            print("%s slots-nodes %d shards-nodes %d nodes-lines %d%s" % (
                what, nslot_nodes, nshard_nodes, len(lines),
                (" replicas %d" % len(_val(frames["REPLICAS"]))) if o.id else ""), flush=True)
            if o.expect_nodes and nshard_nodes != o.expect_nodes:
                problems.append("%s SHARDS: %d nodes, expected %d" % (what, nshard_nodes, o.expect_nodes))
            if o.expect_nodes and nslot_nodes != o.expect_nodes:
                problems.append("%s SLOTS: %d distinct nodes, expected %d" % (what, nslot_nodes, o.expect_nodes))
            if o.expect_nodes and len(lines) != o.expect_nodes:
                problems.append("%s NODES: %d lines, expected %d" % (what, len(lines), o.expect_nodes))
            if o.moved_key and mode != "one-by-one":
                # MOVED under pipelining (between other replies) and queued
                # in a transaction (the error comes at queue time).
                if mode == "pipelined":
                    raw.send("PING")
                    raw.send("GET", o.moved_key)
                    raw.send("PING")
                    raw.send("GET", o.moved_key)
                    rs = [raw.read() for _ in range(4)]
                    moved_ok(what + " MOVED", rs[1])
                    moved_ok(what + " MOVED", rs[3])
                else:
                    raw.send("MULTI")
                    raw.send("GET", o.moved_key)
                    raw.send("EXEC")
                    rs = [raw.read() for _ in range(3)]
                    moved_ok(what + " MOVED", rs[1])
            raw.close()
    for p in problems[:20]:
        print("FAIL: " + p, flush=True)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--cacert", default="")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("suite")
    s.add_argument("--port", type=int, required=True)
    w = sub.add_parser("writer")
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--seconds", type=float, default=30)
    w.add_argument("--out", required=True)
    c = sub.add_parser("check")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--acked", required=True)
    c.add_argument("--prefix", default="fo")
    r = sub.add_parser("rw")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--seconds", type=float, default=10)
    r.add_argument("--prefix", default="rw")
    r.add_argument("--out", default="")
    t = sub.add_parser("topo")
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--id", default="")
    t.add_argument("--expect-nodes", type=int, default=0)
    t.add_argument("--moved-key", default="")
    o = ap.parse_args()
    return {"topo": cmd_topo, "suite": cmd_suite, "writer": cmd_writer, "check": cmd_check,
            "rw": cmd_rw}[o.cmd](o)


if __name__ == "__main__":
    sys.exit(main())
