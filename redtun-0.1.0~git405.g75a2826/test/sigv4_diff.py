#!/usr/bin/python3
"""The ElastiCache IAM token, redtun's (test/sigv4_token) against
botocore's, byte for byte.

    sigv4_diff.py SIGV4_TOKEN_PROGRAM [SEED] [COUNT]

botocore's side is the snippet AWS and redis-py document for ElastiCache
IAM (RequestSigner.generate_presigned_url, expires_in=900), with the
signer's clock pinned.  One python process, one run of the C program over
all cases.  Exit 0 when every case is identical, 1 otherwise (the first
differences printed).  test/fake_elasticache.py imports botocore_token.
"""

import datetime
import random
import subprocess
import sys
import threading
import types
from urllib.parse import ParseResult, urlencode, urlunparse

import botocore.auth
import botocore.session
from botocore.credentials import Credentials
from botocore.model import ServiceId
from botocore.signers import RequestSigner

_session = None
_lock = threading.Lock()
_pinned = [None]


class _PinnedDatetime(datetime.datetime):
    """datetime.datetime whose utcnow() is the pinned signing time."""

    @classmethod
    def utcnow(cls):
        return _pinned[0]


# botocore 1.29 (Debian) calls datetime.datetime.utcnow() in botocore.auth;
# later ones call botocore.auth.get_current_datetime().  Only botocore.auth
# sees the pinned clock: the rest of the process keeps the real one.
botocore.auth.datetime = types.SimpleNamespace(
    datetime=_PinnedDatetime, timezone=datetime.timezone,
    timedelta=datetime.timedelta)
if hasattr(botocore.auth, "get_current_datetime"):
    botocore.auth.get_current_datetime = lambda *a, **k: _pinned[0]


def botocore_token(akid, secret, token, region, cache, user, serverless,
                   when):
    """The token botocore presigns at Unix time ${when} (thread-safe)."""
    global _session
    with _lock:
        if _session is None:
            _session = botocore.session.get_session()
        _pinned[0] = datetime.datetime.utcfromtimestamp(when)
        signer = RequestSigner(
            ServiceId("elasticache"), region, "elasticache", "v4",
            Credentials(akid, secret, token),
            _session.get_component("event_emitter"))
        query = {"Action": "connect", "User": user}
        if serverless:
            query["ResourceType"] = "ServerlessCache"
        url = urlunparse(ParseResult(
            scheme="https", netloc=cache, path="/", query=urlencode(query),
            params="", fragment=""))
        signed = signer.generate_presigned_url(
            {"method": "GET", "url": url, "body": {}, "headers": {},
             "context": {}},
            operation_name="connect", expires_in=900, region_name=region)
    return signed[len("https://"):] if signed.startswith("https://") \
        else signed


REGIONS = ["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1",
           "cn-north-1", "il-central-1", "sa-east-1"]
T2015 = 1420070400            # 2015-01-01T00:00:00Z
T2041 = 2240611200            # 2041-01-01T00:00:00Z
FIXED_TIMES = [
    T2015, T2041 - 1,
    1456790399,               # 2016-02-29T23:59:59Z (leap day)
    1709164800,               # 2024-02-29T00:00:00Z (leap day)
    1709251199,               # 2024-02-29T23:59:59Z
    2147483647,               # 2038-01-19T03:14:07Z (32-bit time_t edge)
    2147483648,
]
SPECIAL = " +/=%&?#~-._!*'();:@$,[]\"<>\\^`{|}\t"
UNICODE = "éüß日本語кириллица😀€\u00a0\u200b"
UNRESERVED = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
              "0123456789-._~")
B64 = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def rand_str(r, alphabet, n):
    return "".join(r.choice(alphabet) for _ in range(n))


def gen_user(r, i):
    fixed = ["a", "default", "my user", "a+b", "a/b", "a=b", "100%", "x&y",
             "q?", "#h", "~t", "é", "日本", "😀", "app-user_1.x~",
             "+/=%&?#~ ", "x" * 128, "y" * 200]
    if i < len(fixed):
        return fixed[i]
    kind = r.randrange(5)
    n = r.choice([1, 2, 8, 32, 64, 128, 129, 200])
    if kind == 0:
        return rand_str(r, UNRESERVED, n)
    if kind == 1:
        return rand_str(r, UNRESERVED + SPECIAL, n)
    if kind == 2:
        return rand_str(r, UNICODE + "ab ", n)
    if kind == 3:
        return rand_str(r, "".join(chr(c) for c in range(32, 127)), n)
    return rand_str(r, UNRESERVED + SPECIAL + UNICODE, n)


def gen_token(r, i):
    k = i % 4
    if k == 0:
        return None
    if k == 1:
        return rand_str(r, B64, r.randrange(16, 400)) + "=="
    if k == 2:
        return rand_str(r, B64 + "=", 2000)
    return "IQoJb3JpZ2luX2VjE" + rand_str(r, B64, r.randrange(1, 900))


def gen_cache(r):
    c = r.choice(["my-cache", "redis-prod-001", "a", "sls-cache-x",
                  "master.my-rg.abc123.use1.cache.amazonaws.com", None])
    if c is None:
        c = rand_str(r, "abcdefghijklmnopqrstuvwxyz0123456789-",
                     r.randrange(1, 41))
    return c


def gen_cases(seed, count):
    r = random.Random(seed)
    cases = []
    for i in range(count):
        akid = r.choice(["AKIA", "ASIA"]) + rand_str(
            r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        secret = rand_str(r, B64, 40)
        when = FIXED_TIMES[i] if i < len(FIXED_TIMES) else \
            r.randrange(T2015, T2041)
        cases.append((akid, secret, gen_token(r, i), r.choice(REGIONS),
                      gen_cache(r), gen_user(r, i), r.randrange(2), when))
    return cases


def c_tokens(prog, cases):
    lines = []
    for akid, secret, tok, region, cache, user, sls, when in cases:
        lines.append("\t".join([akid, secret, tok or "-", region, cache,
                                user.encode("utf-8").hex(), str(sls),
                                str(when)]))
    p = subprocess.run([prog], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        sys.exit("sigv4_diff: %s failed (%d): %s" % (prog, p.returncode,
                                                      p.stderr.strip()))
    out = p.stdout.split("\n")
    if out and out[-1] == "":
        out.pop()
    if len(out) != len(cases):
        sys.exit("sigv4_diff: %d tokens for %d cases" % (len(out),
                                                         len(cases)))
    return out


def main():
    prog = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    print("sigv4_diff: seed %d, %d cases, botocore %s" %
          (seed, count, botocore.__version__))
    cases = gen_cases(seed, count)
    mine = c_tokens(prog, cases)
    same = 0
    differ = []
    stats = {"session token": 0, "serverless": 0, "user needs encoding": 0,
             "user >= 128 chars": 0, "non-ASCII user": 0}
    for case, got in zip(cases, mine):
        want = botocore_token(*case)
        if got == want:
            same += 1
            akid, secret, tok, region, cache, user, sls, when = case
            stats["session token"] += tok is not None
            stats["serverless"] += sls
            stats["user needs encoding"] += any(c not in UNRESERVED
                                                for c in user)
            stats["user >= 128 chars"] += len(user) >= 128
            stats["non-ASCII user"] += any(ord(c) > 127 for c in user)
        else:
            differ.append((case, got, want))
    print("sigv4_diff: %d of %d cases identical (%s)" % (
        same, len(cases), ", ".join("%s %d" % kv for kv in stats.items())))
    for case, got, want in differ[:3]:
        print("DIFFER: case %r\n  redtun:   %s\n  botocore: %s" % (
            (case[0], "<secret>") + case[2:], got, want))
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
