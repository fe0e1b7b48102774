#!/usr/bin/env python3
"""Capture raw reply bytes from the throw-away cluster."""
import socket, sys, time, os
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)

def enc(*args):
    b = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        b += b"$%d\r\n%s\r\n" % (len(a), a)
    return b

def reply(s):
    # Read until no more bytes arrive for 0.3 s (replies are small).
    s.settimeout(0.3)
    data = b""
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            d = s.recv(65536)
        except socket.timeout:
            if data:
                break
            continue
        if not d:
            break
        data += d
    return data

def conn(port, proto):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if proto == 3:
        s.sendall(enc("HELLO", "3"))
        reply(s)
    return s

def cap(name, port, proto, *cmd):
    s = conn(port, proto)
    s.sendall(enc(*cmd))
    r = reply(s)
    s.close()
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(r)
    print(name, len(r))

tag = sys.argv[2]
for proto in (2, 3):
    cap("%s-slots-resp%d" % (tag, proto), 27101, proto, "CLUSTER", "SLOTS")
    cap("%s-shards-resp%d" % (tag, proto), 27101, proto, "CLUSTER", "SHARDS")
    cap("%s-nodes-resp%d" % (tag, proto), 27101, proto, "CLUSTER", "NODES")
    if len(sys.argv) > 3:
        cap("%s-replicas-resp%d" % (tag, proto), 27101, proto, "CLUSTER", "REPLICAS", sys.argv[3])
