#!/usr/bin/env python3
"""A fake EC2 instance metadata service (IMDSv2 only) and a fake container
credentials endpoint (ECS, EKS Pod Identity) on loopback, for
test/iam-creds.sh and the IAM end-to-end tests.

    fake_aws.py PORT LOG MODEFILE [AUTH]

IMDSv2, as on an instance that requires it:
  PUT /latest/api/token needs X-aws-ec2-metadata-token-ttl-seconds; the
  answer is a session token.  Every GET needs X-aws-ec2-metadata-token
  with that token, else 401 (an IMDSv1-style GET is refused).
  GET /latest/meta-data/iam/security-credentials/ -> "test-role"
  GET /latest/meta-data/iam/security-credentials/test-role -> JSON
Container: GET /container/... needs "Authorization: AUTH" (when AUTH is
given), else 401; the answer is JSON.

MODEFILE, read at each request (missing or empty: "normal"), so that one
test can switch: normal, slow (sleep 5 s), malformed (not JSON), missing
(no SecretAccessKey), 500 (credentials answer 500), expiring:N
(Expiration = now + N s), token403 (the PUT is refused), norole (the role
list is 404), badrole (the role list is not a name).
Credentials carry the fetch's serial number: AccessKeyId ASIAFAKE0001,
ASIAFAKE0002... (IMDS) or ASIACONT0001... (container), so that a test
sees a refresh.  LOG gets one line per request:
  METHOD PATH token=yes|no ttl=yes|no auth=yes|no|bad mode=MODE
and one line per credential answer: "creds N".
"""
import json
import os
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
LOG = sys.argv[2]
MODEFILE = sys.argv[3]
AUTH = sys.argv[4] if len(sys.argv) > 4 else None
TOKEN = "AQAEAFAKE-imds-session-token=="
ROLE = "test-role"
ROLE_PATH = "/latest/meta-data/iam/security-credentials/"

lock = threading.Lock()
serial = {"imds": 0, "container": 0}


def mode():
    try:
        with open(MODEFILE) as f:
            return f.read().strip() or "normal"
    except OSError:
        return "normal"


def log(line):
    with lock:
        with open(LOG, "a") as f:
            f.write(line + "\n")


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def creds(kind, m):
    with lock:
        serial[kind] += 1
        n = serial[kind]
    log("creds %d" % n)
    if m == "malformed":
        return 200, '{"AccessKeyId": "ASIA", "SecretAccessKey": '
    prefix = "ASIAFAKE" if kind == "imds" else "ASIACONT"
    ttl = 3600
    if m.startswith("expiring:"):
        ttl = int(m.split(":", 1)[1])
    body = {
        "Code": "Success",
        "LastUpdated": iso(time.time()),
        "Type": "AWS-HMAC",
        "AccessKeyId": "%s%04d" % (prefix, n),
        "SecretAccessKey": "fake-%s-secret-%04d" % (kind, n),
        "Token": "fake-%s-session-token-%04d" % (kind, n),
        "Expiration": iso(int(time.time()) + ttl),
    }
    if kind == "container":
        del body["Code"], body["LastUpdated"], body["Type"]
        body["RoleArn"] = "arn:aws:iam::123456789012:role/test"
    if m == "missing":
        del body["SecretAccessKey"]
    if m == "500":
        return 500, "internal error"
    return 200, json.dumps(body)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def answer(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def note(self, m):
        tok = self.headers.get("X-aws-ec2-metadata-token")
        auth = self.headers.get("Authorization")
        log("%s %s token=%s ttl=%s auth=%s mode=%s" % (
            self.command, self.path,
            "no" if tok is None else ("yes" if tok == TOKEN else "bad"),
            "yes" if self.headers.get(
                "X-aws-ec2-metadata-token-ttl-seconds") else "no",
            "no" if auth is None else ("yes" if auth == AUTH else "bad"),
            m))
        if m == "slow":
            time.sleep(5)
        return tok

    def do_PUT(self):
        m = mode()
        self.note(m)
        if self.path != "/latest/api/token":
            return self.answer(404, "not found")
        if m == "token403":
            return self.answer(403, "forbidden")
        if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self.answer(400, "missing ttl")
        self.answer(200, TOKEN)

    def do_GET(self):
        m = mode()
        tok = self.note(m)
        if self.path.startswith("/container/"):
            if AUTH is not None and self.headers.get("Authorization") \
                    != AUTH:
                return self.answer(401, "unauthorized")
            return self.answer(*creds("container", m))
        if not self.path.startswith("/latest/"):
            return self.answer(404, "not found")
        if tok != TOKEN:    # IMDSv2 required: v1-style GETs are refused
            return self.answer(401, "")
        if self.path == ROLE_PATH:
            if m == "norole":
                return self.answer(404, "not found")
            if m == "badrole":
                return self.answer(200, "../etc/\x1b[31m")
            return self.answer(200, ROLE)
        if self.path == ROLE_PATH + ROLE:
            return self.answer(*creds("imds", m))
        self.answer(404, "not found")


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    srv.daemon_threads = True
    log("ready")
    srv.serve_forever()


if __name__ == "__main__":
    main()
