#!/usr/bin/env python3
"""Write the seed corpora of fuzz_nc, fuzz_chain and fuzz_resp (run once;
the output is committed):  test/fuzz/gen-seeds.py [nc|chain|resp]...

Certificates come from scripts/gen-test-certs and openssl in a temporary
directory; see the input layouts at the top of test/fuzz/fuzz_nc.c and
test/fuzz/fuzz_chain.c.  Chain seeds that name a real certificate (length
bit 15) use whatever $FUZZ_CERT_DIR holds at run time; signed-mode seeds
carry TBSCertificates whose CA public key is the placeholder 04 ca*64.
"""
import os
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CORPUS = os.path.join(TOP, "test", "fuzz", "corpus")
PLACEHOLDER = b"\x04" + b"\xca" * 64


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def tlv_at(d, i):
    """(tag, contents start, end) of the TLV at d[i]."""
    tag, n = d[i], d[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(d[i:i + k], "big")
        i += k
    return tag, i, i + n


def children(d, start, end):
    out = []
    while start < end:
        tag, s, e = tlv_at(d, start)
        out.append((tag, start, s, e))
        start = e
    return out


def tbs_of(cert):
    _, s, _ = tlv_at(cert, 0)
    _, _, te = tlv_at(cert, s)
    return cert[s:te]


def extensions_of(cert):
    """The [3] EXPLICIT TLV of the certificate (whole)."""
    _, s, _ = tlv_at(cert, 0)
    _, ts, te = tlv_at(cert, s)
    for tag, start, _, e in children(cert, ts, te):
        if tag == 0xa3:
            return cert[start:e]
    return b""


def nc_value(ext3):
    """The contents of the NameConstraints OCTET STRING, or None."""
    _, s, _ = tlv_at(ext3, 0)
    _, s2, e2 = tlv_at(ext3, s)
    for _, _, es, ee in children(ext3, s2, e2):
        kids = children(ext3, es, ee)
        oid = ext3[kids[0][2]:kids[0][3]]
        if oid == b"\x55\x1d\x1e":
            octet = kids[-1]
            return ext3[octet[2]:octet[3]]
    return None


def der(path):
    return subprocess.run(["openssl", "x509", "-in", path, "-outform",
                           "DER"], check=True,
                          stdout=subprocess.PIPE).stdout


def write(sub, name, data):
    d = os.path.join(CORPUS, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz_nc -----------------------------------------------------------------

def sans(*names):
    """SAN list: ("dns", b"x") -> 0, ("ip", bytes) -> 1, ("other", t)."""
    out = b""
    for kind, v in names:
        t = {"dns": 0, "ip": 1}.get(kind, 2 | (7 << 2))
        out += bytes([t, len(v)]) + v
    return out


def ip(s):
    import ipaddress
    return ipaddress.ip_address(s).packed


def self_signed(tmp, name, exts):
    key = os.path.join(tmp, "k.pem")
    out = os.path.join(tmp, name + ".der")
    args = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj",
            "/CN=nc seed", "-outform", "DER", "-out", out]
    for e in exts:
        args += ["-addext", e]
    run(*args)
    with open(out, "rb") as f:
        return f.read()


def gen_nc(tmp):
    cases = [
        ("permit-dns-excl-ip", ["nameConstraints=critical,permitted;"
                                "DNS:good.test,excluded;IP:10.0.0.0/"
                                "255.0.0.0"],
         sans(("dns", b"a.good.test"), ("ip", ip("10.1.2.3")))),
        ("permit-dotdns", ["nameConstraints=critical,permitted;DNS:"
                           ".good.test"],
         sans(("dns", b"good.test"), ("dns", b"x.good.test"))),
        ("excl-dns", ["nameConstraints=excluded;DNS:evil.test"],
         sans(("dns", b"EVIL.test."), ("dns", b"notevil.test"))),
        ("permit-ip46", ["nameConstraints=critical,permitted;IP:192.168.0.0"
                         "/255.255.0.0,permitted;IP:2001:db8::/"
                         "ffff:ffff::"],
         sans(("ip", ip("192.168.1.1")), ("ip", ip("2001:db8::1")),
              ("ip", ip("127.0.0.1")))),
        ("excl-ip6-host", ["nameConstraints=critical,excluded;IP:::1/"
                           "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
         sans(("ip", ip("::1")), ("dns", b"localhost"))),
        ("mixed", ["nameConstraints=critical,permitted;DNS:good.test,"
                   "permitted;DNS:other.test,excluded;DNS:bad.good.test,"
                   "excluded;IP:0.0.0.0/0.0.0.0",
                   "basicConstraints=critical,CA:TRUE",
                   "keyUsage=critical,keyCertSign"],
         sans(("dns", b"bad.good.test"), ("dns", b"x.other.test"))),
        ("other-types", ["nameConstraints=critical,permitted;email:"
                         ".good.test,permitted;URI:.good.test"],
         sans(("dns", b"anything.test"), ("other", b"a@good.test"))),
        ("no-nc", ["basicConstraints=critical,CA:TRUE",
                   "subjectAltName=DNS:x.test"],
         sans(("dns", b"x.test"))),
        ("permit-dns-ip", ["nameConstraints=critical,permitted;DNS:"
                           "localhost,permitted;IP:127.0.0.0/255.0.0.0"],
         sans(("dns", b"localhost"), ("ip", ip("127.0.0.1")),
              ("ip", ip("::1")))),
    ]
    for name, exts, names in cases:
        cert = self_signed(tmp, name, exts)
        ext3 = extensions_of(cert)
        _, s, _ = tlv_at(ext3, 0)
        inner = ext3[s:]
        # mode 0: the [3] wrapper, and the bare Extensions SEQUENCE.
        write("nc", name + "-ext3",
              b"\x00" + len(ext3).to_bytes(2, "big") + ext3 + names)
        write("nc", name + "-seq",
              b"\x04" + len(inner).to_bytes(2, "big") + inner + names)
        body = nc_value(ext3)
        if body is not None:
            # mode 1: the NameConstraints value in the harness's envelope.
            write("nc", name + "-body",
                  b"\x0d" + len(body).to_bytes(2, "big") + body + names)

    def st(excl, isip, base, minimum=False):
        return bytes([excl | (isip << 1) | (minimum << 2), len(base)]) + base

    # modes 2/3: subtrees encoded by the harness, checked against its model.
    structured = [
        ("st-permit-dns", [st(0, 0, b"good.test")],
         sans(("dns", b"good.test"), ("dns", b"a.good.test"),
              ("dns", b"agood.test"))),
        ("st-excl-ip-min", [st(1, 1, ip("10.0.0.0") + ip("255.0.0.0"), True),
                            st(0, 0, b".test")],
         sans(("dns", b"x.test"), ("ip", ip("10.9.9.9")))),
        ("st-empty-base", [st(1, 0, b""), st(0, 1, bytes(32))],
         sans(("ip", ip("::1")), ("dns", b"anything"))),
        ("st-many", [st(i & 1, 0, b"n%d.test" % i) for i in range(8)],
         sans(*[("dns", b"x.n%d.test" % i) for i in range(8)])),
    ]
    for name, subtrees, names in structured:
        write("nc", name, bytes([0x02 | 0x0c, len(subtrees)]) +
              b"".join(subtrees) + names)


# ---- fuzz_chain --------------------------------------------------------------

def real(which, mutations=b""):
    return (0x8000 | which << 12 | len(mutations)).to_bytes(2, "big") + \
        mutations


def blob(d):
    return len(d).to_bytes(2, "big") + d


def flags(count, client=False, host=0, small=False, sign=False):
    return bytes([(count - 1) | client << 3 | host << 4 | small << 6 |
                  sign << 7])


def gen_chain(tmp):
    certs = os.path.join(tmp, "certs")
    run(os.path.join(TOP, "scripts", "gen-test-certs"), certs)
    server = der(os.path.join(certs, "server.crt"))
    ca = der(os.path.join(certs, "ca.crt"))
    capoint = subprocess.run(
        ["openssl", "pkey", "-in", os.path.join(certs, "ca.key"), "-pubout",
         "-outform", "DER"], check=True, stdout=subprocess.PIPE).stdout[-65:]
    assert capoint[0] == 4

    # Raw DER: the server chain, and truncated and flipped copies.
    write("chain", "raw-leaf", flags(1, host=1) + blob(server))
    write("chain", "raw-leaf-ca", flags(2, host=2, small=True) +
          blob(server) + blob(ca))
    write("chain", "raw-ca-leaf", flags(2) + blob(ca) + blob(server))
    for cut in (1, 40, len(server) // 2, len(server) - 1):
        write("chain", "raw-trunc-%d" % cut, flags(2, host=1) +
              blob(server[:cut]) + blob(ca))
    # Real certificates of FUZZ_CERT_DIR: 0 server 1 ca 2 client 3
    # wronghost 4 untrusted 5 other-ca 6 expired 7 otherclient.
    write("chain", "real-server", flags(1, host=1) + real(0))
    write("chain", "real-server-ca", flags(2, host=2, small=True) +
          real(0) + real(1))
    write("chain", "real-client", flags(1, client=True) + real(2))
    write("chain", "real-wronghost", flags(1, host=3) + real(3))
    write("chain", "real-untrusted", flags(2, host=1) + real(4) + real(5))
    write("chain", "real-expired", flags(1) + real(6))
    write("chain", "real-loop", flags(6) + real(1) * 6)
    write("chain", "real-flip", flags(2, host=1) +
          real(0, b"\x00\x10\x01\x01\x00\x80") + real(1))
    write("chain", "real-cut", flags(1, small=True) + real(0, b"\x07"))

    # Signed TBSCertificates under the runtime CA (same subject name).
    def mk(name, subj, exts, key=None, issuer=("ca.crt", "ca.key"),
           keyalg=("EC", "ec_paramgen_curve:P-256"), md="-sha256"):
        keyf = key or os.path.join(tmp, name + ".key")
        if key is None:
            run("openssl", "genpkey", "-algorithm", keyalg[0],
                *(["-pkeyopt", keyalg[1]] if keyalg[1] else []), "-out",
                keyf)
        csr = os.path.join(tmp, name + ".csr")
        run("openssl", "req", "-new", "-key", keyf, "-subj", subj, "-out",
            csr)
        extf = os.path.join(tmp, name + ".ext")
        with open(extf, "w") as f:
            f.write("\n".join(exts) + "\n")
        icrt = issuer[0] if os.path.isabs(issuer[0]) else \
            os.path.join(certs, issuer[0])
        run("openssl", "x509", "-req", md, "-days", "7300", "-in",
            csr, "-CA", icrt, "-CAkey", os.path.join(certs, issuer[1]),
            "-set_serial", "0x%x" % (0x1000 + len(name)), "-extfile", extf,
            "-out", os.path.join(tmp, name + ".crt"))
        tbs = tbs_of(der(os.path.join(tmp, name + ".crt")))
        return tbs.replace(capoint, PLACEHOLDER)

    leaf_ext = ["basicConstraints=critical,CA:FALSE",
                "keyUsage=critical,digitalSignature",
                "extendedKeyUsage=serverAuth,clientAuth"]
    cakey = os.path.join(certs, "ca.key")
    inter_ext = ["basicConstraints=critical,CA:TRUE",
                 "keyUsage=critical,keyCertSign"]

    leaf = mk("s-leaf", "/O=redtun test/CN=localhost", leaf_ext +
              ["subjectAltName=DNS:localhost,IP:127.0.0.1"])
    write("chain", "sign-leaf", flags(1, host=1, sign=True) + blob(leaf))
    write("chain", "sign-leaf-realca", flags(2, host=2, sign=True) +
          blob(leaf) + real(1))

    i_nc = mk("s-inter-nc", "/O=redtun test/CN=fuzz inter nc", inter_ext +
              ["nameConstraints=critical,permitted;DNS:good.test,excluded;"
               "IP:10.0.0.0/255.0.0.0"], key=cakey)
    inter_crt = os.path.join(tmp, "s-inter-nc.crt")
    for nm, san in (("good", "DNS:a.good.test"), ("bad", "DNS:localhost"),
                    ("ip", "DNS:good.test,IP:10.1.2.3")):
        lf = mk("s-nc-" + nm, "/O=redtun test/CN=leaf " + nm,
                leaf_ext + ["subjectAltName=" + san],
                issuer=(inter_crt, "ca.key"))
        write("chain", "sign-nc-" + nm, flags(2, sign=True) + blob(lf) +
              blob(i_nc))

    i_pl = mk("s-inter-pl0", "/O=redtun test/CN=fuzz inter pl0",
              ["basicConstraints=critical,CA:TRUE,pathlen:0",
               "keyUsage=critical,keyCertSign"], key=cakey)
    i2 = mk("s-inter-2", "/O=redtun test/CN=fuzz inter 2", inter_ext,
            key=cakey, issuer=(os.path.join(tmp, "s-inter-pl0.crt"),
                               "ca.key"))
    lf2 = mk("s-leaf-2", "/O=redtun test/CN=localhost", leaf_ext +
             ["subjectAltName=DNS:localhost"],
             issuer=(os.path.join(tmp, "s-inter-2.crt"), "ca.key"))
    write("chain", "sign-pathlen", flags(3, host=1, sign=True) +
          blob(lf2) + blob(i2) + blob(i_pl))
    write("chain", "sign-unordered", flags(3, host=1, sign=True) +
          blob(lf2) + blob(i_pl) + blob(i2))

    i_eku = mk("s-inter-eku", "/O=redtun test/CN=fuzz inter eku", inter_ext +
               ["extendedKeyUsage=clientAuth"], key=cakey)
    lf3 = mk("s-leaf-3", "/O=redtun test/CN=localhost", leaf_ext +
             ["subjectAltName=DNS:localhost"],
             issuer=(os.path.join(tmp, "s-inter-eku.crt"), "ca.key"))
    write("chain", "sign-eku", flags(2, host=1, sign=True) + blob(lf3) +
          blob(i_eku))
    write("chain", "sign-eku-client", flags(2, client=True, sign=True) +
          blob(lf3) + blob(i_eku))

    i_noca = mk("s-inter-noca", "/O=redtun test/CN=fuzz inter noca",
                ["basicConstraints=critical,CA:FALSE"], key=cakey)
    lf4 = mk("s-leaf-4", "/O=redtun test/CN=localhost", leaf_ext +
             ["subjectAltName=DNS:localhost"],
             issuer=(os.path.join(tmp, "s-inter-noca.crt"), "ca.key"))
    write("chain", "sign-noca", flags(2, sign=True) + blob(lf4) +
          blob(i_noca))

    # Name constraints written as DER by hand: odd encodings and names.
    def tlv(tag, v):
        n = len(v)
        h = bytes([n]) if n < 0x80 else bytes([0x81, n])
        return bytes([tag]) + h + v

    def sub(tag, base):
        return tlv(0x30, tlv(tag, base))

    odd = [
        ("dup-excluded", tlv(0x30, tlv(0xa1, sub(0x82, b"evil.test")) +
                             tlv(0xa1, sub(0x82, b"other.test"))),
         "DNS:evil.test"),
        ("dot-excluded", tlv(0x30, tlv(0xa1, sub(0x82, b"evil.test."))),
         "DNS:evil.test"),
        ("wild-excluded", tlv(0x30, tlv(0xa1, sub(0x82, b"a.evil.test"))),
         "DNS:*.evil.test"),
        ("v4mapped", tlv(0x30, tlv(0xa1, sub(0x87, bytes([10, 0, 0, 0, 255,
                                                         0, 0, 0])))),
         "IP:::ffff:10.1.2.3"),
    ]
    for nm, nc, san in odd:
        i = mk("s-odd-i-" + nm, "/O=redtun test/CN=fuzz inter " + nm,
               inter_ext + ["2.5.29.30=critical,DER:" + nc.hex()], key=cakey)
        lf = mk("s-odd-l-" + nm, "/O=redtun test/CN=leaf " + nm,
                leaf_ext + ["subjectAltName=" + san],
                issuer=(os.path.join(tmp, "s-odd-i-" + nm + ".crt"),
                        "ca.key"))
        write("chain", "sign-nc-" + nm, flags(2, sign=True) + blob(lf) +
              blob(i))

    # Other keys and digests: RSA sizes, curves, Ed25519, SHA-1 and -384.
    keys = [("rsa1024", ("RSA", "rsa_keygen_bits:1024")),
            ("rsa2048", ("RSA", "rsa_keygen_bits:2048")),
            ("p384", ("EC", "ec_paramgen_curve:P-384")),
            ("k256", ("EC", "ec_paramgen_curve:secp256k1")),
            ("ed25519", ("ED25519", None))]
    for nm, alg in keys:
        lf = mk("s-key-" + nm, "/O=redtun test/CN=localhost", leaf_ext +
                ["subjectAltName=DNS:localhost"], keyalg=alg)
        write("chain", "sign-key-" + nm, flags(1, host=1, sign=True) +
              blob(lf))
    i_sha1 = mk("s-inter-sha1", "/O=redtun test/CN=fuzz inter sha1",
                inter_ext, key=cakey, md="-sha1")
    lf6 = mk("s-leaf-sha1", "/O=redtun test/CN=localhost", leaf_ext +
             ["subjectAltName=DNS:localhost"],
             issuer=(os.path.join(tmp, "s-inter-sha1.crt"), "ca.key"),
             md="-sha1")
    write("chain", "sign-sha1", flags(2, host=1, sign=True) + blob(lf6) +
          blob(i_sha1))
    lf7 = mk("s-leaf-sha384", "/O=redtun test/CN=localhost", leaf_ext +
             ["subjectAltName=DNS:localhost"], md="-sha384")
    write("chain", "sign-sha384", flags(1, host=1, sign=True) + blob(lf7))

    lf5 = mk("s-leaf-noku", "/O=redtun test/CN=localhost",
             ["basicConstraints=critical,CA:FALSE",
              "keyUsage=critical,keyEncipherment",
              "subjectAltName=DNS:localhost,DNS:*.good.test"])
    write("chain", "sign-noku", flags(1, host=1, sign=True) + blob(lf5))


# ---- fuzz_resp: SEED[4] SIDE STREAM (test/fuzz/fuzz_resp.c); fuzz_resp_diff:
# reply streams ----------------------------------------------------------------

def gen_resp():
    def bulk(b):
        return b"$%d\r\n%s\r\n" % (len(b), b)

    def cmd(*args):
        return b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)

    rep, req = b"\x12\x34\x56\x78\x00", b"\x9a\xbc\xde\xf1\x01"
    big = rep[:3] + b"\x01\x00"     # odd low seed byte: chunks to 4096
    seeds = {
        "reply-resp2": rep + b"+OK\r\n-ERR wrong type\r\n:42\r\n:-7\r\n" +
        bulk(b"hello") + b"$-1\r\n*-1\r\n*0\r\n" +
        b"*3\r\n:1\r\n*2\r\n+a\r\n$0\r\n\r\n$-1\r\n",
        "reply-resp3": rep + b"_\r\n#t\r\n#f\r\n,3.14\r\n,inf\r\n,-inf\r\n"
        b",nan\r\n(3492890328409238509324850943850943825024385\r\n"
        b"=15\r\ntxt:Some string\r\n!21\r\nSYNTAX invalid syntax\r\n"
        b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n~2\r\n+a\r\n#f\r\n",
        "reply-attr": rep + b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n"
        b",0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n"
        b"|1\r\n+ttl\r\n:3600\r\n:9543892\r\n|0\r\n+OK\r\n",
        "reply-push": rep + b">3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$2\r\nhi"
        b"\r\n>4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\ncx\r\n$1\r\nx\r\n",
        "reply-deep": rep + b"*1\r\n" * 31 + b"*0\r\n" + b"*1\r\n" * 33,
        "reply-big": big + bulk(b"x" * 5000) + b"*2\r\n" + bulk(b"y" * 70) +
        b"+" + b"z" * 3000 + b"\r\n",
        "reply-bad-type": rep + b"+OK\r\n@oops\r\n",
        "reply-bad-crlf": rep + b"$3\r\nfooXY+OK\r\n",
        "reply-bad-len": rep + b"*2\r\n$abc\r\n",
        "reply-streamed": rep + b"$?\r\n;4\r\nHell\r\n;0\r\n",
        "request-multibulk": req + cmd(b"SET", b"key", b"value") +
        cmd(b"get", b"key") + b"*0\r\n*-1\r\n" + cmd(b"PING"),
        "request-inline": req + b"PING\r\nSET  k\tv\n\r\n\n   \r\nGET k\r\n" +
        b"a b c d e f g\r\n",
        "request-mixed": req + b"PING\n" + cmd(b"MULTI") + b"INCR x\r\n" +
        cmd(b"EXEC") + b"*1\r\n$4\r\nPINGxx",
        "request-bad": req + cmd(b"GET", b"k") + b"*2\r\n+GET\r\n",
        "request-long": req[:3] + b"\x01\x01" + b"a" * 70000 + b"\n",
    }
    for name, data in seeds.items():
        write("resp", name, data)
        # fuzz_resp_diff: reply streams alone (RESP3 ones too: the cut).
        if data[4] & 1 == 0:
            write("resp_diff", name, data[5:])
    write("resp_diff", "reply-depth8", b"*1\r\n" * 7 + b"*2\r\n:1\r\n$-1\r\n" +
          b"*1\r\n" * 9 + b":1\r\n")
    write("resp_diff", "reply-both-bad", b"*2\r\n$3\r\nfoo\r\n:1x\r\n" +
          b"+OK\r\n")


def main():
    what = sys.argv[1:] or ["nc", "chain", "resp"]
    tmp = tempfile.mkdtemp(prefix="gen-seeds.")
    try:
        if "nc" in what:
            gen_nc(tmp)
        if "chain" in what:
            gen_chain(tmp)
        if "resp" in what:
            gen_resp()
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
