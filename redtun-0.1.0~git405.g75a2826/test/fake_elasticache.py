#!/usr/bin/python3
"""A small fake ElastiCache for the IAM tests: TLS, enough RESP for
redis-cli and redis-benchmark, and AUTH USER TOKEN checked the way
ElastiCache checks an IAM token, with botocore as the reference.

    fake_elasticache.py CERT KEY PORT AUTHLOG

Listens on 127.0.0.1:PORT.  The credentials it accepts come from the
environment: FAKE_EC_AKID, FAKE_EC_SECRET, FAKE_EC_TOKEN (the session
token, optional), or FAKE_EC_CREDS_FILE, a file of "AKID SECRET [TOKEN]"
lines read again at every AUTH (so a test can rotate credentials).
FAKE_EC_SERVERLESS=1 wants serverless tokens (ResourceType); FAKE_EC_CACHE
and FAKE_EC_REGION, when set, are the only cache (the token's host) and
region accepted.

A token passes when botocore, given the same user, cache, region, the
accepted credentials for its key id and its own X-Amz-Date as the clock,
presigns exactly the same URL, and it is not expired (X-Amz-Date +
X-Amz-Expires >= now) nor from the future (X-Amz-Date <= now + 300).
AUTH answers +OK or ElastiCache's "-WRONGPASS invalid username-password
pair or user is disabled."; the reason goes to stderr and one line per
AUTH to AUTHLOG ("AUTH ok conn=C n=N user=... cache=... date=..." where
N counts the good AUTHs of connection C, or "AUTH fail conn=C user=...
reason=..."); a failed AUTH leaves the connection as it was, as in Redis.
Before a good AUTH every other command gets "-NOAUTH Authentication
required."; RESET answers +RESET and forgets the AUTH (an IAM cache's
default user is off), as redtun's reuse expects.  FAKE_EC_AUTH_TTL=S
closes a connection S seconds after its last good AUTH (ElastiCache's
12 hours, shortened), logging "CLOSE conn=C n=N ...".  MULTI queues
every command, AUTH included, until EXEC or DISCARD, as Redis does.
Tokens and secrets are never logged.
"""

import calendar
import os
import socket
import socketserver
import ssl
import sys
import itertools
import threading
import time
from urllib.parse import unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sigv4_diff import botocore_token  # noqa: E402

MAX_BUF = 1 << 20          # unparsed input per connection
MAX_BULK = 512 * 1024      # one argument
MAX_ARGS = 4096            # arguments per command
MAX_KEYS = 100000          # the whole data set
WRONGPASS = (b"-WRONGPASS invalid username-password pair or user is "
             b"disabled.\r\n")
NOAUTH = b"-NOAUTH Authentication required.\r\n"
TOKEN_KEYS = ["Action", "User", "ResourceType", "X-Amz-Algorithm",
              "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
              "X-Amz-SignedHeaders", "X-Amz-Security-Token",
              "X-Amz-Signature"]

data = {}
data_lock = threading.Lock()
log_lock = threading.Lock()
authlog = None
conn_ids = itertools.count(1)
# ElastiCache closes a connection 12 h after its last good AUTH; tests say
# how many seconds here (0: never).
AUTH_TTL = float(os.environ.get("FAKE_EC_AUTH_TTL") or 0)


class ProtocolError(Exception):
    pass


def shown(b):
    """Peer text made safe for one log line, bounded."""
    s = b.decode("utf-8", "backslashreplace")[:200]
    return "".join(c if c.isprintable() and c != " " else
                   "\\x%02x" % ord(c) if ord(c) < 256 else
                   "\\u%04x" % ord(c) for c in s)


def log_auth(line):
    with log_lock:
        authlog.write(line + "\n")
        authlog.flush()


def credentials():
    """{akid: (secret, token or None)} as the environment says now."""
    path = os.environ.get("FAKE_EC_CREDS_FILE")
    creds = {}
    if path:
        with open(path, encoding="utf-8") as f:
            for line in f:
                w = line.split()
                if len(w) >= 2:
                    creds[w[0]] = (w[1], w[2] if len(w) > 2 else None)
    elif os.environ.get("FAKE_EC_AKID"):
        creds[os.environ["FAKE_EC_AKID"]] = (
            os.environ.get("FAKE_EC_SECRET", ""),
            os.environ.get("FAKE_EC_TOKEN") or None)
    return creds


def check_token(user, token):
    """(None, info) for a good token, (reason, info) otherwise."""
    info = "cache=? date=?"
    host, sep, rest = token.partition("/?")
    if not sep or not host or "/" in host:
        return "not HOST/?QUERY", info
    q = {}
    for pair in rest.split("&"):
        k, eq, v = pair.partition("=")
        if not eq or k not in TOKEN_KEYS or k in q:
            return "bad or repeated query key %s" % shown(k.encode()), info
        q[k] = v
    for k in ["Action", "User", "X-Amz-Credential", "X-Amz-Date",
              "X-Amz-Expires", "X-Amz-Signature"]:
        if k not in q:
            return "no %s" % k, info
    try:
        when = calendar.timegm(time.strptime(q["X-Amz-Date"],
                                             "%Y%m%dT%H%M%SZ"))
        expires = int(q["X-Amz-Expires"])
    except ValueError:
        return "bad X-Amz-Date or X-Amz-Expires", info
    info = "cache=%s date=%s" % (shown(host.encode()), q["X-Amz-Date"])
    if q["Action"] != "connect":
        return "Action is not connect", info
    if unquote(q["User"], errors="strict") != user:
        return "the token is for another user", info
    scope = unquote(q["X-Amz-Credential"]).split("/")
    if len(scope) != 5 or scope[3] != "elasticache" or \
            scope[4] != "aws4_request":
        return "bad credential scope", info
    akid, region = scope[0], scope[2]
    serverless = "ResourceType" in q
    if serverless != (os.environ.get("FAKE_EC_SERVERLESS") == "1"):
        return "serverless flag mismatch", info
    if serverless and q["ResourceType"] != "ServerlessCache":
        return "bad ResourceType", info
    want = os.environ.get("FAKE_EC_CACHE")
    if want and host != want:
        return "the token is for another cache", info
    want = os.environ.get("FAKE_EC_REGION")
    if want and region != want:
        return "the token is for another region", info
    creds = credentials().get(akid)
    if creds is None:
        return "unknown access key id", info
    if (creds[1] or None) != (unquote(q["X-Amz-Security-Token"])
                              if "X-Amz-Security-Token" in q else None):
        return "session token mismatch", info
    now = time.time()
    if when + expires < now:
        return "expired (%d s ago)" % (now - when - expires), info
    if when > now + 300:
        return "dated %d s in the future" % (when - now), info
    good = botocore_token(akid, creds[0], creds[1], region, host, user,
                          serverless, when)
    if good != token:
        return "signature mismatch (wrong credentials or request)", info
    return None, info


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.authed = False
        self.buf = bytearray()
        self.id = next(conn_ids)
        self.nauth = 0             # good AUTHs on this connection
        self.auth_at = None        # monotonic time of the last one
        self.multi = None          # the commands queued after MULTI

    def parse(self):
        """One command (a list of bytes) from the buffer, or None."""
        b = self.buf
        if not b:
            return None
        if b[0:1] != b"*":             # inline command
            i = b.find(b"\n")
            if i < 0:
                return None
            line = bytes(b[:i]).rstrip(b"\r")
            del b[:i + 1]
            return line.split()        # [] for an empty line: skipped
        i = b.find(b"\r\n")
        if i < 0:
            return None
        try:
            n = int(b[1:i])
        except ValueError:
            raise ProtocolError("invalid multibulk length")
        if n > MAX_ARGS:
            raise ProtocolError("invalid multibulk length")
        pos, args = i + 2, []
        for _ in range(max(n, 0)):
            j = b.find(b"\r\n", pos)
            if j < 0:
                return None
            if b[pos:pos + 1] != b"$":
                raise ProtocolError("expected '$'")
            try:
                ln = int(b[pos + 1:j])
            except ValueError:
                raise ProtocolError("invalid bulk length")
            if ln < 0 or ln > MAX_BULK:
                raise ProtocolError("invalid bulk length")
            if len(b) < j + 2 + ln + 2:
                return None
            args.append(bytes(b[j + 2:j + 2 + ln]))
            pos = j + 2 + ln + 2
        del b[:pos]
        return args                    # [] for *0 or *-1: skipped

    def auth(self, args):
        if len(args) != 3:
            log_auth("AUTH fail conn=%d user=default reason=no-user" %
                     self.id)
            print("fake_elasticache: AUTH without a user", file=sys.stderr,
                  flush=True)
            return WRONGPASS
        user = args[1].decode("utf-8", "surrogateescape")
        try:
            reason, info = check_token(user, args[2].decode("ascii"))
        except (UnicodeError, ValueError) as e:
            reason, info = "malformed token (%s)" % type(e).__name__, ""
        u = shown(args[1])
        if reason is None:
            self.authed = True
            self.nauth += 1
            self.auth_at = time.monotonic()
            log_auth("AUTH ok conn=%d n=%d user=%s %s" % (
                self.id, self.nauth, u, info))
            return b"+OK\r\n"
        # As in Redis, a failed AUTH leaves the connection as it was.
        log_auth("AUTH fail conn=%d user=%s %s reason=%s" % (
            self.id, u, info, reason))
        print("fake_elasticache: AUTH %s refused: %s" % (u, reason),
              file=sys.stderr, flush=True)
        return WRONGPASS

    def command(self, args):
        """The reply to ${args}, or None to close (QUIT)."""
        name = args[0].upper()
        if name == b"QUIT":
            return None
        if name == b"RESET":
            self.authed = False
            self.auth_at = None
            self.multi = None
            return b"+RESET\r\n"
        if not self.authed and name != b"AUTH":
            return NOAUTH
        if name == b"MULTI":
            if self.multi is not None:
                return b"-ERR MULTI calls can not be nested\r\n"
            self.multi = []
            return b"+OK\r\n"
        if name in (b"EXEC", b"DISCARD"):
            if self.multi is None:
                return b"-ERR %s without MULTI\r\n" % name
            queued, self.multi = self.multi, None
            if name == b"DISCARD":
                return b"+OK\r\n"
            # Like Redis, AUTH is queued too: its reply is in EXEC's.
            return b"*%d\r\n" % len(queued) + b"".join(
                self.one(a) for a in queued)
        if self.multi is not None:
            self.multi.append(args)
            return b"+QUEUED\r\n"
        return self.one(args)

    def one(self, args):
        name = args[0].upper()
        n = len(args)
        if name == b"AUTH":
            return self.auth(args)
        if name == b"PING":
            return bulk(args[1]) if n > 1 else b"+PONG\r\n"
        if name == b"ECHO" and n == 2:
            return bulk(args[1])
        if name in (b"CLIENT", b"SELECT", b"READONLY", b"READWRITE"):
            return b"+OK\r\n"
        if name == b"ROLE":
            return b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"
        if name in (b"COMMAND", b"CONFIG"):
            return b"*0\r\n"
        if name == b"INFO":
            return bulk(b"# Server\r\nredis_version:7.1.0\r\n")
        if name == b"SET" and n >= 3:
            with data_lock:
                if args[1] not in data and len(data) >= MAX_KEYS:
                    return b"-OOM command not allowed\r\n"
                data[args[1]] = args[2]
            return b"+OK\r\n"
        if name == b"GET" and n == 2:
            with data_lock:
                v = data.get(args[1])
            return b"$-1\r\n" if v is None else bulk(v)
        if name == b"DEL" and n >= 2:
            with data_lock:
                c = sum(data.pop(k, None) is not None for k in args[1:])
            return b":%d\r\n" % c
        if name == b"INCR" and n == 2:
            with data_lock:
                try:
                    v = int(data.get(args[1], b"0")) + 1
                except ValueError:
                    return b"-ERR value is not an integer or out of range\r\n"
                if args[1] not in data and len(data) >= MAX_KEYS:
                    return b"-OOM command not allowed\r\n"
                data[args[1]] = b"%d" % v
            return b":%d\r\n" % v
        return b"-ERR unknown command '%s'\r\n" % shown(args[0]).encode()

    def expired(self):
        """Closed for want of a fresh AUTH, as ElastiCache does."""
        if not AUTH_TTL or self.auth_at is None:
            self.sock.settimeout(None)
            return False
        left = self.auth_at + AUTH_TTL - time.monotonic()
        if left > 0:
            self.sock.settimeout(left)
            return False
        log_auth("CLOSE conn=%d n=%d reason=no AUTH for %g s" % (
            self.id, self.nauth, AUTH_TTL))
        return True

    def serve(self):
        while not self.expired():
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            self.sock.settimeout(None)
            if not chunk:
                return
            self.buf += chunk
            out = []
            while True:
                try:
                    args = self.parse()
                except ProtocolError as e:
                    out.append(b"-ERR Protocol error: %s\r\n" %
                               str(e).encode())
                    self.sock.sendall(b"".join(out))
                    return
                if args is None:
                    break
                if not args:
                    continue
                reply = self.command(args)
                if reply is None:          # QUIT
                    out.append(b"+OK\r\n")
                    self.sock.sendall(b"".join(out))
                    return
                out.append(reply)
            if len(self.buf) > MAX_BUF:
                out.append(b"-ERR Protocol error: too big request\r\n")
                self.sock.sendall(b"".join(out))
                return
            if out:
                self.sock.sendall(b"".join(out))


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        raw = self.request
        raw.settimeout(10)             # the handshake
        try:
            sock = self.server.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            print("fake_elasticache: handshake: %s" % e, file=sys.stderr,
                  flush=True)
            return
        sock.settimeout(None)
        try:
            Conn(sock).serve()
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    global authlog
    if len(sys.argv) != 5:
        sys.exit("usage: fake_elasticache.py CERT KEY PORT AUTHLOG")
    cert, key, port, logpath = sys.argv[1:]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    authlog = open(logpath, "a", encoding="utf-8")
    srv = Server(("127.0.0.1", int(port)), Handler)
    srv.ctx = ctx
    print("fake_elasticache: listening on 127.0.0.1:%s" % port,
          file=sys.stderr, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
