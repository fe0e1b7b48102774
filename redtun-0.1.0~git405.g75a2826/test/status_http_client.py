#!/usr/bin/env python3
"""Hostile and plain HTTP clients for the status endpoint tests (raw
sockets, so every byte and every timing is the test's own):

  status_http_client.py PORT get PATH [METHOD]   status line, then the body
  status_http_client.py PORT codes METHOD PATH...  one request each;
                                                 "PATH CODE [Allow]" lines
  status_http_client.py PORT raw HEX             send bytes; status code
  status_http_client.py PORT slowloris           trickle a head; "CODE SECS"
  status_http_client.py PORT bighead BYTES       one huge header; status code
  status_http_client.py PORT pipelined           two requests at once;
                                                 "RESPONSES FIRST-CODE"
  status_http_client.py PORT flood N             N idle connections; how
                                                 many the server closed

Every wait is bounded; "closed" stands for a connection closed (or reset)
with no answer.
"""
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def connect(port):
    s = socket.create_connection((HOST, port), timeout=10)
    s.settimeout(10)
    return s


def read_all(s):
    """Everything until EOF (or a reset, after what came first)."""
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (ConnectionResetError, socket.timeout):
        pass
    return data


def code_of(data):
    if not data.startswith(b"HTTP/1.1 "):
        return "closed" if not data else "junk"
    return data.split(b" ", 2)[1].decode()


def cmd_get(port, path, method="GET"):
    s = connect(port)
    s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\n\r\n" % (method, path)).encode())
    data = read_all(s)
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    sys.stdout.write(head.decode("latin-1").replace("\r\n", "\n") + "\n\n")
    sys.stdout.write(body.decode("latin-1"))


def cmd_codes(port, method, paths):
    for path in paths:
        s = connect(port)
        s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\n\r\n" %
                   (method, path)).encode())
        data = read_all(s)
        s.close()
        allow = [ln for ln in data.split(b"\r\n") if ln.startswith(b"Allow:")]
        print(path, code_of(data), *[a.decode() for a in allow])


def cmd_raw(port, hexbytes):
    s = connect(port)
    s.sendall(bytes.fromhex(hexbytes))
    print(code_of(read_all(s)))


def cmd_slowloris(port):
    s = connect(port)
    t0 = time.monotonic()
    head = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 100
    data = b""
    s.settimeout(0.25)
    try:
        for b in head:  # one byte per 0.25 s: never a whole head
            s.sendall(bytes([b]))
            try:
                got = s.recv(65536)
            except socket.timeout:
                continue
            data += got
            if not got:
                break
            data += read_all(s)
            break
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(code_of(data), "%.1f" % (time.monotonic() - t0))


def cmd_bighead(port, n):
    s = connect(port)
    # Send from a thread: the server answers (and stops reading) long
    # before the last byte; the answer must still reach us.
    def send():
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"b" * n +
                      b"\r\n\r\n")
        except OSError:
            pass
    t = threading.Thread(target=send, daemon=True)
    t.start()
    print(code_of(read_all(s)))
    t.join(5)


def cmd_pipelined(port):
    s = connect(port)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    data = read_all(s)
    print(data.count(b"HTTP/1.1 "), code_of(data))


def cmd_flood(port, n):
    socks = [connect(port) for _ in range(n)]
    time.sleep(0.5)
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed += 1
    print(closed)
    for s in socks:
        s.close()


def main():
    port = int(sys.argv[1])
    cmd = sys.argv[2]
    args = sys.argv[3:]
    if cmd == "get":
        cmd_get(port, *args)
    elif cmd == "codes":
        cmd_codes(port, args[0], args[1:])
    elif cmd == "raw":
        cmd_raw(port, args[0])
    elif cmd == "slowloris":
        cmd_slowloris(port)
    elif cmd == "bighead":
        cmd_bighead(port, int(args[0]))
    elif cmd == "pipelined":
        cmd_pipelined(port)
    elif cmd == "flood":
        cmd_flood(port, int(args[0]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
