#!/usr/bin/env python3
"""Differential test of redtun's server-certificate verification (client
mode) against OpenSSL, for test/tls-matrix.sh.

    tls_matrix.py gen DIR
        Build the throw-away PKI of every case in DIR with the openssl CLI
        and write DIR/cases.json; print one "SERVICE HOST CAFILE" line per
        redtun service (the shell script assigns the ports and writes the
        config).
    tls_matrix.py run DIR PORTS LOG MD [REFUSED]
        PORTS has one "SERVICE ORACLE_PORT UPSTREAM_PORT ACCEPT_PORT" line per
        service; REFUSED one "SERVICE MESSAGE" line per service whose config
        redtun rejects (its verdict is then "refuse" with that message).
        Serve every case (one TLS listener for the oracle and one for
        redtun), run the oracle (Python's ssl, i.e. OpenSSL with its
        default security level and hostname checks) and redtun (through
        ACCEPT_PORT) against each case, compare, print the table and write
        it to MD. Exit 0 all as expected, 1 a mismatch, 99 setup broken.

The case table is define() below; the expected refusal reasons are REASONS.
A case's expected verdict is OpenSSL's unless the case sets expect= with a
note saying why redtun is right to differ. TLS_MATRIX_ONLY=ERE (in "gen")
keeps only the cases whose group name matches.

Standard library only. Everything runs in the private network namespace
the shell script sets up (a hosts file maps the test names to 127.0.0.1).
"""

import concurrent.futures
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

# ---------------------------------------------------------------------------
# Expected refusal reasons: a case-insensitive regex per kind, matched
# against the text redtun logs after "upstream HOST:PORT: " when it refuses.
# One place, so they are easy to adjust.
REASONS = {
    "hostname": r"hostname mismatch",
    "not_ca": r"not a CA",
    "pathlen": r"path length",
    "nul": r"\bNUL\b",
    "rsa1024": r"1024 bits",
    "p192": r"192|too weak|too small|unsupported|cannot parse",
    "sha1": r"sha-?1",
    "md5": r"md5",
    "nc": r"name constraints",
    "eku": r"extended key usage",
    "ku": r"key usage",
    "expired": r"expired",
    "notyet": r"not yet valid",
    "depth": r"more than \d+ intermediate|chain is too long|depth|"
             r"at most \d+ certificates",
    "untrusted": r"not signed by a trusted CA|unable to get issuer|no trusted",
    "selfsigned": r"self.signed|not signed by a trusted CA|no trusted",
}

# Expected-verdict overrides must say why redtun differs from OpenSSL.
STRICTER_CN = "stricter on purpose: no CN fallback, RFC 9525"
STRICTER_KU = ("stricter on purpose: the key signs the handshake, so keyUsage "
               "must allow digitalSignature (RFC 5280 4.2.1.3); OpenSSL does "
               "not check it here")
TRAILING_DOT = ("on purpose: one trailing dot is the same absolute name "
                "(RFC 9525 matching as the issue asks; Go and curl strip it); "
                "OpenSSL 3.0 compares the dot literally")
LIB_RSAPSS = ("library limitation: wolfSSL 5.5.4 does not decode the "
              "rsa_pss_pss_* schemes (0x0809-0x080b) that an id-RSASSA-PSS "
              "key signs with (tls13.c DecodeTls13SigAlg: \"The security "
              "parameter is invalid\"); RSA keys signing rsa_pss_rsae work")
ANY_EKU_CA = ("OpenSSL refuses a CA whose only EKU is anyExtendedKeyUsage; "
              "RFC 5280 4.2.1.12: it means no restriction")

# The longest chain the linked wolfSSL keeps ("redtun -V"; Debian's: 9).
LIB_DEPTH = int(os.environ.get("TLS_MATRIX_LIB_DEPTH") or 20)

IO_TIMEOUT = 10.0          # one handshake / one reply
LOG_WAIT = 3.0             # for redtun's log line of a connection
RUN_DEADLINE = 100.0       # the whole "run" step (servers stop after it)

OK_VERDICTS = ("accept", "refuse")


def log(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def die(msg):
    sys.stderr.write("tls_matrix: ERROR: %s\n" % msg)
    sys.exit(99)


# ---------------------------------------------------------------------------
# PKI: certificates described first, then built with the openssl CLI
# (keys in parallel, certificates level by level in parallel).

LEAF_EXT = {
    "basicConstraints": "critical,CA:FALSE",
    "keyUsage": "critical,digitalSignature",
    "extendedKeyUsage": "serverAuth",
    "subjectKeyIdentifier": "hash",
    "authorityKeyIdentifier": "keyid:always",
}
CA_EXT = {
    "basicConstraints": "critical,CA:TRUE",
    "keyUsage": "critical,keyCertSign,cRLSign",
    "subjectKeyIdentifier": "hash",
    "authorityKeyIdentifier": "keyid:always",
}
ROOT_EXT = {
    "basicConstraints": "critical,CA:TRUE",
    "keyUsage": "critical,keyCertSign,cRLSign",
    "subjectKeyIdentifier": "hash",
}

KEYGEN = {
    "ec256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "ec384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "ec192": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-192"],
    "rsa1024": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
    "rsa2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rsa3072": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
    "rsapss": ["-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"],
    "ed25519": ["-algorithm", "ED25519"],
    "ed448": ["-algorithm", "ED448"],
}
NO_DIGEST = ("ed25519", "ed448")

CA_CONF = """\
[ca]
default_ca = ca_default
[ca_default]
database = {db}/index.txt
new_certs_dir = {db}
serial = {db}/serial
default_md = default
policy = pol
unique_subject = no
email_in_dn = no
[pol]
commonName = optional
[req]
distinguished_name = dn
[dn]
[ext]
{ext}
"""


class Cert:
    def __init__(self, name, subj, key, issuer, ext, md, sigopt, dates):
        self.name = name
        self.subj = subj
        self.key = key          # key name
        self.issuer = issuer    # Cert or None (self-signed)
        self.ext = ext
        self.md = md
        self.sigopt = sigopt
        self.dates = dates      # (start, end) or None

    def level(self):
        return 0 if self.issuer is None else self.issuer.level() + 1


class PKI:
    def __init__(self, d):
        self.dir = d
        self.keys = {}      # name -> alg
        self.certs = {}     # name -> Cert
        self.order = []
        self.counts = {}

    def opaque_cn(self, prefix):
        """A subject CN that says nothing: redtun's messages quote subject
        names, and a CN like "expired-root" would satisfy /expired/."""
        n = self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return "%s-%02d" % (prefix, n)

    def path(self, name, suffix):
        return os.path.join(self.dir, name + suffix)

    def key(self, name, alg):
        if self.keys.setdefault(name, alg) != alg:
            raise ValueError("key %s redefined" % name)
        return name

    def cert(self, name, subj, key, issuer=None, ext=None, md="sha256",
             sigopt=(), dates=None):
        if name in self.certs:
            raise ValueError("certificate %s defined twice" % name)
        signer = key if issuer is None else issuer.key
        if self.keys[signer] in NO_DIGEST:
            md = None       # EdDSA signs without a separate digest
        c = Cert(name, subj, key, issuer, ext, md, list(sigopt), dates)
        self.certs[name] = c
        self.order.append(c)
        return c

    # ---- building

    def _genkey(self, name):
        out = self.path(name, ".key")
        run(["openssl", "genpkey"] + KEYGEN[self.keys[name]] + ["-out", out])

    def _gencert(self, c):
        ext = "\n".join("%s = %s" % kv for kv in c.ext.items())
        with tempfile.TemporaryDirectory(dir=self.dir) as db:
            open(os.path.join(db, "index.txt"), "w").close()
            with open(os.path.join(db, "serial"), "w") as f:
                f.write("%016X\n" % int.from_bytes(os.urandom(8), "big"))
            conf = os.path.join(db, "ca.cnf")
            with open(conf, "w") as f:
                f.write(CA_CONF.format(db=db, ext=ext))
            csr = os.path.join(db, "req.csr")
            run(["openssl", "req", "-new", "-config", conf, "-subj", c.subj,
                 "-key", self.path(c.key, ".key"), "-out", csr])
            cmd = ["openssl", "ca", "-batch", "-notext", "-preserveDN",
                   "-config", conf, "-extfile", conf, "-extensions", "ext",
                   "-in", csr, "-out", self.path(c.name, ".crt")]
            if c.issuer is None:
                cmd += ["-selfsign", "-keyfile", self.path(c.key, ".key")]
            else:
                cmd += ["-cert", self.path(c.issuer.name, ".crt"),
                        "-keyfile", self.path(c.issuer.key, ".key")]
            if c.md:
                cmd += ["-md", c.md]
            for o in c.sigopt:
                cmd += ["-sigopt", o]
            if c.dates:
                cmd += ["-startdate", c.dates[0], "-enddate", c.dates[1]]
            else:
                cmd += ["-startdate", time.strftime(
                    "%Y%m%d%H%M%SZ", time.gmtime(time.time() - 86400)),
                    "-days", "3650"]
            run(cmd)

    def build(self):
        os.makedirs(self.dir, exist_ok=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
            list(ex.map(self._genkey, self.keys))
            by_level = {}
            for c in self.order:
                by_level.setdefault(c.level(), []).append(c)
            for lv in sorted(by_level):
                list(ex.map(self._gencert, by_level[lv]))


def run(cmd):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0:
        die("command failed (%d): %s\n%s" % (
            p.returncode, " ".join(cmd), p.stdout.decode(errors="replace")))


def san_der(names):
    """subjectAltName extension value (DER, hex) with dNSName entries taken
    verbatim, so a name can carry a NUL byte."""
    def tlv(tag, body):
        n = len(body)
        if n < 0x80:
            ln = bytes([n])
        elif n < 0x100:
            ln = bytes([0x81, n])
        else:
            ln = bytes([0x82, n >> 8, n & 0xff])
        return bytes([tag]) + ln + body
    body = b"".join(tlv(0x82, n) for n in names)
    der = tlv(0x30, body).hex().upper()
    return ":".join(der[i:i + 2] for i in range(0, len(der), 2))


# ---------------------------------------------------------------------------
# The cases.

class Case:
    """One row of the table: one connection through one redtun service.
    Rows of the same group share the upstream listeners and the redtun
    service; connection k of a listener presents row k % n of its group."""

    def __init__(self, name, host, leaf, chain, cafile, expect=None,
                 reason=None, note="", tls=None, ciphers=None,
                 server_may_fail=False, group=None):
        self.name = name
        self.host = host
        self.leaf = leaf            # Cert (its key is the server key)
        self.chain = chain          # [Cert] sent after the leaf, in order
        self.cafile = cafile        # Cert: the only trusted root
        self.expect = expect        # None = must equal the oracle
        self.reason = reason        # key of REASONS or None
        self.note = note
        self.tls = tls              # None, "1.2" or "1.3"
        self.ciphers = ciphers
        self.server_may_fail = server_may_fail
        self.group = group or name
        if expect is not None and expect not in OK_VERDICTS:
            raise ValueError(expect)
        if reason is not None and reason not in REASONS:
            raise ValueError(reason)


OLD = ("20200101000000Z", "20210101000000Z")
FUTURE = ("20450101000000Z", "20460101000000Z")

TLS12_ECDSA = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
               "ECDHE-ECDSA-CHACHA20-POLY1305:@SECLEVEL=0")
TLS12_RSA = ("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
             "ECDHE-RSA-CHACHA20-POLY1305:@SECLEVEL=0")


def define(pki):
    """Describe every certificate and case; returns the list of Case."""
    K = pki.key
    C = pki.cert

    def ext(base, **kw):
        e = dict(base)
        for k, v in kw.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    def ca(name, issuer, alg="ec256", md="sha256", dates=None, **kw):
        K(name, alg)
        return C(name, "/O=redtun matrix/CN=" + pki.opaque_cn("ca"), name,
                 issuer, ext(ROOT_EXT if issuer is None else CA_EXT, **kw), md,
                 dates=dates)

    # Roots (the only trust anchors; one per case as its CAfile).
    root = ca("root", None)
    rsaroot = ca("rsa-root", None, alg="rsa2048")
    rsa1024root = ca("rsa1024-root", None, alg="rsa1024")
    p384root = ca("p384-root", None, alg="ec384", md="sha384")
    edroot = ca("ed25519-root", None, alg="ed25519")
    other = ca("other-root", None)
    sha1root = ca("sha1-root", None, alg="rsa2048", md="sha1")
    oldroot = ca("expired-root", None, dates=OLD)
    ncroot = ca("nc-root", None, nameConstraints="critical,permitted;DNS:good.test")

    # Leaf keys (shared by the leaves of a kind).
    K("leaf", "ec256")
    for alg in ("rsa1024", "rsa2048", "rsa3072", "rsapss", "ec384", "ec192",
                "ed25519", "ed448"):
        K("leaf-" + alg, alg)

    def leaf(name, issuer, san=None, key="leaf", md="sha256", sigopt=(),
             dates=None, cn=None, **kw):
        e = ext(LEAF_EXT, **kw)
        if san is not None:
            e["subjectAltName"] = san
        subj = "/O=redtun matrix/CN=" + (cn if cn else pki.opaque_cn("leaf"))
        return C("leaf-" + name, subj, key, issuer, e, md, sigopt, dates)

    cases = []

    def case(name, host, san=None, issuer=root, chain=(), cafile=None,
             leafkw=None, **kw):
        lf = leaf(name, issuer, san, **(leafkw or {}))
        cases.append(Case(name, host, lf, list(chain),
                          cafile if cafile is not None else root, **kw))
        return lf

    FOO = "foo.example.test"
    H = "hostname"

    # 0. Controls.
    case("control", FOO, "DNS:" + FOO, note="positive control")
    case("control-wrong-host", FOO, "DNS:other.example.test", reason=H,
         note="negative control")

    # 1. Wildcards and names.
    case("wild-partial", FOO, "DNS:f*.example.test", reason=H)
    case("wild-middle-label", "a.b.example.test", "DNS:a.*.example.test", reason=H)
    case("wild-double", "a.b.example.test", "DNS:*.*.example.test", reason=H)
    case("wild-tld", "example.test", "DNS:*.test", reason=H)
    case("wild-bare", "localhost", "DNS:*", reason=H)
    case("wild-good", FOO, "DNS:*.example.test")
    case("wild-two-labels", "a.b.example.test", "DNS:*.example.test", reason=H)
    case("wild-apex", "example.test", "DNS:*.example.test", reason=H)
    case("wild-case", FOO, "DNS:*.EXAMPLE.Test")
    case("name-case", FOO, "DNS:FOO.Example.TEST")
    case("name-second-san", FOO, "DNS:other.test, DNS:" + FOO)
    case("trailing-dot-host", FOO + ".", "DNS:" + FOO, expect="accept",
         note="connect to foo.example.test.; " + TRAILING_DOT)
    case("trailing-dot-san", FOO, "DNS:" + FOO + ".", expect="accept",
         note="SAN foo.example.test.; " + TRAILING_DOT)
    case("dns-host-ip-san", FOO, "IP:127.0.0.1", reason=H)
    case("cn-only-dns", FOO, None, leafkw={"cn": FOO}, expect="refuse",
         reason=H, note=STRICTER_CN)
    case("cn-ignored-with-san", FOO, "DNS:other.example.test",
         leafkw={"cn": FOO}, reason=H, note="CN matches, SAN does not")

    # 2. IP addresses.
    case("ip-good", "127.0.0.1", "IP:127.0.0.1")
    case("ip-as-dns", "127.0.0.1", "DNS:127.0.0.1", reason=H)
    case("ip-wild-dns", "127.0.0.1", "DNS:*.0.0.1", reason=H)
    case("ip-cn-only", "127.0.0.1", None, leafkw={"cn": "127.0.0.1"}, reason=H)
    case("ip-other", "127.0.0.1", "IP:127.0.0.2", reason=H)
    case("ip-dns-and-ip", "127.0.0.1", "DNS:localhost, IP:127.0.0.1")
    case("ipv6-as-dns", "::1", "DNS:::1", reason=H)
    case("ipv6-good", "::1", "IP:::1")
    case("ipv6-v4-san", "::1", "IP:127.0.0.1", reason=H)

    # 3. Extended key usage.
    i = ca("int-eku-client", root, extendedKeyUsage="clientAuth")
    case("eku-int-clientauth", FOO, "DNS:" + FOO, issuer=i, chain=[i], reason="eku")
    i = ca("int-eku-server", root, extendedKeyUsage="serverAuth")
    case("eku-int-serverauth", FOO, "DNS:" + FOO, issuer=i, chain=[i])
    i = ca("int-eku-any", root, extendedKeyUsage="anyExtendedKeyUsage")
    case("eku-int-any", FOO, "DNS:" + FOO, issuer=i, chain=[i],
         expect="accept", note=ANY_EKU_CA)
    case("eku-leaf-clientauth", FOO, "DNS:" + FOO,
         leafkw={"extendedKeyUsage": "clientAuth"}, reason="eku")
    case("eku-leaf-none", FOO, "DNS:" + FOO, leafkw={"extendedKeyUsage": None})
    case("eku-leaf-both", FOO, "DNS:" + FOO,
         leafkw={"extendedKeyUsage": "clientAuth,serverAuth"})
    case("eku-leaf-any-only", FOO, "DNS:" + FOO,
         leafkw={"extendedKeyUsage": "anyExtendedKeyUsage"},
         note="anyExtendedKeyUsage alone on the leaf")

    # 4. Keys and signatures.
    case("rsa1024-leaf", FOO, "DNS:" + FOO, leafkw={"key": "leaf-rsa1024"},
         reason="rsa1024")
    case("rsa2048-leaf", FOO, "DNS:" + FOO, leafkw={"key": "leaf-rsa2048"})
    case("rsa3072-sha384", FOO, "DNS:" + FOO, issuer=rsaroot, cafile=rsaroot,
         leafkw={"key": "leaf-rsa3072", "md": "sha384"})
    case("sha1-leaf-rsa", FOO, "DNS:" + FOO, issuer=rsaroot, cafile=rsaroot,
         leafkw={"md": "sha1"}, reason="sha1")
    case("sha1-leaf-ecdsa", FOO, "DNS:" + FOO, leafkw={"md": "sha1"},
         reason="sha1")
    case("md5-leaf", FOO, "DNS:" + FOO, issuer=rsaroot, cafile=rsaroot,
         leafkw={"md": "md5"}, reason="md5")
    i = ca("int-sha1", rsaroot, md="sha1")
    case("sha1-intermediate", FOO, "DNS:" + FOO, issuer=i, chain=[i],
         cafile=rsaroot, reason="sha1")
    i = ca("int-rsa1024", root, alg="rsa1024")
    case("rsa1024-intermediate", FOO, "DNS:" + FOO, issuer=i, chain=[i],
         reason="rsa1024")
    case("rsa1024-root", FOO, "DNS:" + FOO, issuer=rsa1024root,
         cafile=rsa1024root, note="weak key on the trust anchor only")
    i = ca("int-p192", root, alg="ec192")
    case("p192-intermediate", FOO, "DNS:" + FOO, issuer=i, chain=[i],
         reason="p192")
    case("sha1-root", FOO, "DNS:" + FOO, issuer=sha1root, cafile=sha1root,
         note="sha1 self-signature on the trust anchor only")
    case("p384-leaf", FOO, "DNS:" + FOO, leafkw={"key": "leaf-ec384"})
    case("p384-ca", FOO, "DNS:" + FOO, issuer=p384root, cafile=p384root,
         leafkw={"md": "sha384"})
    case("p192-leaf", FOO, "DNS:" + FOO, leafkw={"key": "leaf-ec192"},
         tls="1.2", ciphers=TLS12_ECDSA, server_may_fail=True,
         note="TLS 1.2 (no P-192 signatures in 1.3); a server may fail first")
    case("ed25519-leaf-ec-ca", FOO, "DNS:" + FOO,
         leafkw={"key": "leaf-ed25519"})
    case("ed25519-leaf-ed-ca", FOO, "DNS:" + FOO, issuer=edroot, cafile=edroot,
         leafkw={"key": "leaf-ed25519"})
    case("ed448-leaf", FOO, "DNS:" + FOO, leafkw={"key": "leaf-ed448"})
    case("rsapss-key-leaf", FOO, "DNS:" + FOO, leafkw={"key": "leaf-rsapss"},
         expect="refuse", note=LIB_RSAPSS)
    case("rsa-pss-signature", FOO, "DNS:" + FOO, issuer=rsaroot,
         cafile=rsaroot, leafkw={"key": "leaf-rsa2048", "sigopt": (
             "rsa_padding_mode:pss", "rsa_pss_saltlen:digest")})

    case("rsa-pss-sha1-signature", FOO, "DNS:" + FOO, issuer=rsaroot,
         cafile=rsaroot, leafkw={"key": "leaf-rsa2048", "md": "sha1",
                                 "sigopt": ("rsa_padding_mode:pss",
                                            "rsa_pss_saltlen:digest")},
         expect="refuse", reason="sha1",
         note="RSASSA-PSS over SHA-1 is as forgeable as sha1WithRSA")

    # 5. Name constraints.
    nc = "nameConstraints"
    good = ca("int-nc-good", root, **{nc: "critical,permitted;DNS:good.test"})
    sub = C("sub-ca-good", "/O=redtun matrix/CN=ca.good.test",
            K("sub-ca-good", "ec256"), good, ext(CA_EXT), "sha256")
    case("nc-subca-evil", "evil.test", "DNS:evil.test", issuer=sub,
         chain=[sub, good], reason="nc")
    case("nc-subca-good", "host.good.test", "DNS:host.good.test", issuer=sub,
         chain=[sub, good], note="legitimate sub-CA below the constraint")
    case("nc-direct-evil", "evil.test", "DNS:evil.test", issuer=good,
         chain=[good], reason="nc")
    case("nc-direct-good", "a.good.test", "DNS:a.good.test", issuer=good,
         chain=[good])
    case("nc-mixed-san", "a.good.test", "DNS:a.good.test, DNS:evil.test",
         issuer=good, chain=[good], reason="nc",
         note="one SAN inside, one outside")
    case("nc-cn-only-evil", "evil.test", None, issuer=good, chain=[good],
         leafkw={"cn": "evil.test"}, note="no SAN, CN outside")
    bad = ca("int-nc-bad", root, **{nc: "critical,excluded;DNS:bad.test"})
    sub2 = ca("sub-ca-bad", bad)
    case("nc-excl-child", "bad.test", "DNS:bad.test", issuer=bad, chain=[bad],
         reason="nc")
    case("nc-excl-grandchild", "host.bad.test", "DNS:host.bad.test",
         issuer=sub2, chain=[sub2, bad], reason="nc")
    case("nc-excl-other", "fine.test", "DNS:fine.test", issuer=bad,
         chain=[bad])
    exw = ca("int-nc-excl-wild", root,
             **{nc: "critical,excluded;DNS:bad.example.test"})
    case("nc-excl-wildcard", "bad.example.test", "DNS:*.example.test",
         issuer=exw, chain=[exw], expect="refuse", reason="nc",
         note="stricter on purpose: the wildcard stands for the excluded "
         "name (OpenSSL compares the pattern as text)")
    exd = ca("int-nc-excl-dot", root, **{nc: "critical,excluded;DNS:evil.test."})
    case("nc-excl-trailing-dot", "evil.test", "DNS:evil.test", issuer=exd,
         chain=[exd], expect="refuse", reason="nc",
         note="stricter on purpose: an excluded base with a trailing dot "
         "is the same name")
    i = ca("int-nc-ip10", root, **{nc: "critical,permitted;IP:10.0.0.0/255.0.0.0"})
    case("nc-ip-outside", "127.0.0.1", "IP:127.0.0.1", issuer=i, chain=[i],
         reason="nc")
    i = ca("int-nc-ip127", root, **{nc: "critical,permitted;IP:127.0.0.0/255.0.0.0"})
    case("nc-ip-inside", "127.0.0.1", "IP:127.0.0.1", issuer=i, chain=[i])
    i = ca("int-nc-ip-excl", root, **{nc: "critical,excluded;IP:127.0.0.0/255.0.0.0"})
    case("nc-ip-excluded", "127.0.0.1", "IP:127.0.0.1", issuer=i, chain=[i],
         reason="nc")
    i = ca("int-nc-ip-excl10", root, **{nc: "critical,excluded;IP:10.0.0.0/255.0.0.0"})
    case("nc-ip-excluded-other", "127.0.0.1", "IP:127.0.0.1", issuer=i,
         chain=[i])
    case("nc-root-evil", "evil.test", "DNS:evil.test", issuer=ncroot,
         cafile=ncroot, reason="nc", note="constraint on the trust anchor")
    case("nc-root-good", "host.good.test", "DNS:host.good.test",
         issuer=ncroot, cafile=ncroot)

    # 6. Key usage.
    case("ku-keyagreement-tls13", FOO, "DNS:" + FOO, tls="1.3",
         leafkw={"keyUsage": "critical,keyAgreement"}, expect="refuse",
         reason="ku", note=STRICTER_KU)
    case("ku-keyagreement-tls12", FOO, "DNS:" + FOO, tls="1.2",
         ciphers=TLS12_ECDSA, leafkw={"keyUsage": "critical,keyAgreement"},
         reason="ku", server_may_fail=True,
         note="ECDHE-ECDSA; an OpenSSL server will not sign with this key, "
         "so this only tests a client that gets past the server")
    case("ku-keyagreement-tls12-rsa", FOO, "DNS:" + FOO, tls="1.2",
         ciphers=TLS12_RSA, leafkw={"key": "leaf-rsa2048",
                                    "keyUsage": "critical,keyAgreement"},
         expect="refuse", reason="ku", note="ECDHE-RSA; " + STRICTER_KU)
    case("ku-keyenc-tls12-rsa", FOO, "DNS:" + FOO, tls="1.2",
         ciphers=TLS12_RSA, leafkw={"key": "leaf-rsa2048",
                                    "keyUsage": "critical,keyEncipherment"},
         expect="refuse", reason="ku", note="ECDHE-RSA; " + STRICTER_KU)
    case("ku-keyenc-tls13-rsa", FOO, "DNS:" + FOO, tls="1.3",
         leafkw={"key": "leaf-rsa2048", "keyUsage": "critical,keyEncipherment"},
         expect="refuse", reason="ku", note=STRICTER_KU)
    case("ku-ds-ke", FOO, "DNS:" + FOO,
         leafkw={"keyUsage": "critical,digitalSignature,keyEncipherment"})
    case("ku-absent", FOO, "DNS:" + FOO, leafkw={"keyUsage": None})
    case("ku-certsign-only", FOO, "DNS:" + FOO,
         leafkw={"keyUsage": "critical,keyCertSign"}, reason="ku")

    # 7. Validity.
    case("expired-leaf", FOO, "DNS:" + FOO, leafkw={"dates": OLD},
         reason="expired")
    case("notyet-leaf", FOO, "DNS:" + FOO, leafkw={"dates": FUTURE},
         reason="notyet")
    i = ca("int-expired", root, dates=OLD)
    case("expired-intermediate", FOO, "DNS:" + FOO, issuer=i, chain=[i],
         reason="expired")
    i = ca("int-notyet", root, dates=FUTURE)
    case("notyet-intermediate", FOO, "DNS:" + FOO, issuer=i, chain=[i],
         reason="notyet")
    case("expired-root", FOO, "DNS:" + FOO, issuer=oldroot, cafile=oldroot,
         reason="expired")

    # 8. Chains.
    i = ca("int-plain", root)
    case("chain-1-int", FOO, "DNS:" + FOO, issuer=i, chain=[i])
    i = ca("int-never-sent", root)
    case("missing-intermediate", FOO, "DNS:" + FOO, issuer=i, chain=[],
         reason="untrusted")
    top = ca("int-order-top", root)
    low = ca("int-order-low", top)
    lf = leaf("misordered", low, "DNS:" + FOO)
    for n in (1, 2):
        cases.append(Case("misordered#%d" % n, FOO, lf, [top, low], root,
                          group="misordered",
                          note="leaf, root-side int, lower int; connection %d"
                          " of 2 through one service" % n))
    rem = ca("int-remembered", root)
    la = leaf("remembered-a", rem, "DNS:" + FOO)
    lb = leaf("remembered-b", rem, "DNS:" + FOO)
    cases.append(Case("remembered#1", FOO, la, [rem], root, group="remembered",
                      note="leaf A + intermediate I"))
    cases.append(Case("remembered#2", FOO, lb, [], root, group="remembered",
                      reason="untrusted",
                      note="then leaf B of I without I, same service"))
    i = ca("int-ca-false", root, basicConstraints="critical,CA:FALSE")
    case("int-ca-false", FOO, "DNS:" + FOO, issuer=i, chain=[i],
         reason="not_ca")
    i = ca("int-no-bc", root, basicConstraints=None)
    case("int-no-basicconstraints", FOO, "DNS:" + FOO, issuer=i, chain=[i],
         reason="not_ca")
    p0 = ca("int-pathlen0", root, basicConstraints="critical,CA:TRUE,pathlen:0")
    s = ca("sub-pathlen0", p0)
    case("pathlen0-exceeded", FOO, "DNS:" + FOO, issuer=s, chain=[s, p0],
         reason="pathlen")
    case("pathlen0-ok", FOO, "DNS:" + FOO, issuer=p0, chain=[p0])
    chain = []
    prev = root
    for n in range(1, 18):
        prev = ca("deep-%02d" % n, prev)
        chain.insert(0, prev)
        if n in (8, 10, 16) and n + 1 <= LIB_DEPTH:
            case("chain-%d-ints" % n, FOO, "DNS:" + FOO, issuer=prev,
                 chain=list(chain))
        elif n in (8, 10, 16):
            case("chain-%d-ints" % n, FOO, "DNS:" + FOO, issuer=prev,
                 chain=list(chain), expect="refuse", reason="depth",
                 note="library limit: this wolfSSL keeps at most %d "
                 "certificates of a chain (redtun's own build: 20)"
                 % LIB_DEPTH)
    case("chain-17-ints", FOO, "DNS:" + FOO, issuer=prev, chain=list(chain),
         expect="refuse", reason="depth",
         note="stricter on purpose: at most 16 intermediates (OpenSSL's "
         "default verify depth is 100)")
    i = ca("int-other", other)
    case("untrusted-root", FOO, "DNS:" + FOO, issuer=i, chain=[i, other],
         reason="untrusted", note="chain up to a root not in CAfile")
    K("selfsigned", "ec256")
    ss = C("leaf-self-signed", "/O=redtun matrix/CN=" + pki.opaque_cn("leaf"),
           "selfsigned",
           None, ext(LEAF_EXT, authorityKeyIdentifier=None,
                     subjectAltName="DNS:" + FOO), "sha256")
    cases.append(Case("self-signed-leaf", FOO, ss, [], root,
                      reason="selfsigned"))

    # 9. Control bytes in names.
    nul = "DER:" + san_der([b"host.example.test\x00.evil.test"])
    case("san-nul", "host.example.test", nul, reason="nul",
         note="DNS:host.example.test\\0.evil.test")
    nul = "DER:" + san_der([b"host.example.test\x00"])
    case("san-nul-trailing", "host.example.test", nul, reason="nul",
         note="DNS:host.example.test\\0")
    case("san-nul-ok-second", "host.example.test", "DER:" + san_der(
        [b"x\x00.evil.test", b"host.example.test"]), expect="refuse",
        reason="nul", note="a NUL name, then the right one; stricter on "
        "purpose: a dNSName with a NUL byte is malformed (RFC 5280 4.2.1.6), "
        "so the whole certificate is; OpenSSL skips that name")
    return cases


HOSTS = ["localhost", "foo.example.test", "foo.example.test.", "bad.example.test",
         "a.b.example.test", "example.test", "host.example.test",
         "host.good.test", "a.good.test", "evil.test", "bad.test",
         "host.bad.test", "fine.test"]


def cmd_gen(d):
    d = os.path.abspath(d)
    pki = PKI(d)
    cases = define(pki)
    only = os.environ.get("TLS_MATRIX_ONLY")
    if only:
        cases = [c for c in cases if re.search(only, c.group)]
        if not cases:
            die("TLS_MATRIX_ONLY=%s selects no case" % only)
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        die("duplicate case names")
    t0 = time.time()
    pki.build()
    groups = []
    index = {}
    for c in cases:
        if c.group not in index:
            index[c.group] = len(groups)
            groups.append({"service": svc_name(c.group), "host": c.host,
                           "cafile": pki.path(c.cafile.name, ".crt"),
                           "rows": []})
        g = groups[index[c.group]]
        if g["host"] != c.host or g["cafile"] != pki.path(c.cafile.name, ".crt"):
            die("group %s: rows differ in host or CAfile" % c.group)
        chain = os.path.join(d, "chain-%s.pem" % svc_name(c.name))
        with open(chain, "w") as out:
            for cert in [c.leaf] + c.chain:
                with open(pki.path(cert.name, ".crt")) as f:
                    out.write(f.read())
        g["rows"].append({
            "name": c.name, "chain": chain,
            "key": pki.path(c.leaf.key, ".key"), "expect": c.expect,
            "reason": c.reason, "note": c.note, "tls": c.tls,
            "ciphers": c.ciphers, "server_may_fail": c.server_may_fail})
    with open(os.path.join(d, "cases.json"), "w") as f:
        json.dump(groups, f, indent=1)
    with open(os.path.join(d, "names.txt"), "w") as f:
        for c in pki.order:
            f.write("%-40s %s.crt\n" % (c.subj, c.name))
    with open(os.path.join(d, "hosts"), "w") as f:
        f.write("127.0.0.1 %s\n" % " ".join(HOSTS))
        f.write("::1 ip6-localhost\n")
    sys.stderr.write("tls_matrix: %d cases, %d services, %d certificates, "
                     "%d keys in %.1f s\n" % (len(cases), len(groups),
                                              len(pki.certs), len(pki.keys),
                                              time.time() - t0))
    for g in groups:
        print(g["service"], g["host"], g["cafile"])


def svc_name(name):
    return "m-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


# ---------------------------------------------------------------------------
# The upstream TLS servers.

class Listener:
    """Serves connection k with row k % n of its group; records the server's
    view of every handshake."""

    def __init__(self, group, role, port, deadline):
        self.group = group
        self.role = role
        self.rows = group["rows"]
        fam = socket.AF_INET6 if ":" in group["host"] else socket.AF_INET
        addr = "::1" if fam == socket.AF_INET6 else "127.0.0.1"
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((addr, port))
        except OSError as e:
            die("cannot listen on %s port %d: %s" % (addr, port, e))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.deadline = deadline
        self.cond = threading.Condition()
        self.results = []   # per connection: None (running) or text
        threading.Thread(target=self.loop, daemon=True).start()

    def context(self, row):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # Weak certificates must still be presented.
        ctx.set_ciphers(row["ciphers"] or "DEFAULT:@SECLEVEL=0")
        if row["tls"] == "1.2":
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        elif row["tls"] == "1.3":
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        else:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        # No resumption: every connection is a full handshake with the
        # row's chain (a fresh context per connection also has its own
        # ticket keys and session cache).
        ctx.options |= ssl.OP_NO_TICKET
        ctx.num_tickets = 0
        ctx.load_cert_chain(row["chain"], row["key"])
        return ctx

    def loop(self):
        while time.time() < self.deadline:
            try:
                s, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.cond:
                k = len(self.results)
                self.results.append(None)
            threading.Thread(target=self.serve, args=(s, k),
                             daemon=True).start()

    def serve(self, s, k):
        row = self.rows[k % len(self.rows)]
        res = "?"
        try:
            s.settimeout(IO_TIMEOUT)
            tls = self.context(row).wrap_socket(s, server_side=True)
            res = "ok"
            self.record(k, res)
            buf = b""
            while True:
                data = tls.recv(4096)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    _, buf = buf.split(b"\n", 1)
                    tls.sendall(b"+PONG\r\n")
        except ssl.SSLError as e:
            if res != "ok":
                res = "failed: " + (e.reason or str(e))
        except (OSError, ValueError) as e:
            if res != "ok":
                res = "failed: " + str(e)
        finally:
            if res != "ok":
                self.record(k, res)
            try:
                s.close()
            except OSError:
                pass

    def record(self, k, res):
        with self.cond:
            self.results[k] = res
            self.cond.notify_all()

    def wait_result(self, k, timeout, accept_timeout=2.0):
        """The server's view of connection k: "ok", "failed: ..." or None
        (no connection within accept_timeout, or no handshake result within
        timeout)."""
        start = time.time()
        end = start + timeout
        with self.cond:
            while len(self.results) <= k or self.results[k] is None:
                if len(self.results) <= k:
                    end = min(end, start + accept_timeout)
                left = end - time.time()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.results[k]


def server_side_failure(res):
    """A handshake the server itself gave up on (not the client's alert or
    close): the case did not test the client."""
    if res is None or res == "ok":
        return False
    r = res.lower()
    return not ("alert" in r or "eof" in r or "reset" in r or "broken pipe" in r
                or "unexpected_eof" in r or "closed" in r)


# ---------------------------------------------------------------------------
# The oracle and the redtun probe.

def oracle(group, row, port):
    ctx = ssl.create_default_context(cafile=group["cafile"])
    host = group["host"]
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    addr = "::1" if fam == socket.AF_INET6 else "127.0.0.1"
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(IO_TIMEOUT)
    try:
        s.connect((addr, port))
    except OSError as e:
        die("oracle: cannot connect to %s port %d: %s" % (addr, port, e))
    try:
        tls = ctx.wrap_socket(s, server_hostname=host)
    except ssl.SSLCertVerificationError as e:
        s.close()
        return "refuse", e.verify_message or str(e)
    except ssl.SSLError as e:
        s.close()
        return "refuse", e.reason or str(e)
    except OSError as e:
        s.close()
        return "error", "oracle: %s" % e
    try:
        tls.sendall(b"PING\r\n")
        data = tls.recv(100)
    except OSError as e:
        return "error", "oracle: no reply after the handshake: %s" % e
    finally:
        tls.close()
    if not data.startswith(b"+PONG"):
        return "error", "oracle: reply %r instead of +PONG" % data
    return "accept", ""


def redtun_probe(port):
    """PING through redtun: accept = +PONG came back; refuse = closed
    without it (after redtun's "-ERR redtun [SVC]: why"); hang = neither
    within IO_TIMEOUT. Returns (verdict, local port, detail)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(IO_TIMEOUT)
    try:
        s.connect(("127.0.0.1", port))
    except OSError as e:
        die("cannot connect to redtun on port %d: %s" % (port, e))
    lport = s.getsockname()[1]
    buf = b""
    verdict = "refuse"
    try:
        s.sendall(b"PING\r\n")
        while b"\n" not in buf:
            data = s.recv(100)
            if not data:
                break
            buf += data
        if buf.startswith(b"+PONG"):
            verdict = "accept"
        elif buf.startswith(b"-ERR redtun ["):
            pass    # refused, and redtun told the client why
        elif buf:
            verdict = "error"
    except socket.timeout:
        verdict = "hang"
    except OSError:
        pass        # reset: refused
    finally:
        s.close()
    return verdict, lport, buf


class RedtunLog:
    def __init__(self, path):
        self.path = path

    def lines_for(self, svc, lport, until, want):
        """Lines of service svc about local peer 127.0.0.1:lport; polls
        until want(lines) or the deadline."""
        tag = "[%s] 127.0.0.1:%d:" % (svc, lport)
        while True:
            try:
                with open(self.path, errors="replace") as f:
                    lines = [ln.rstrip("\n") for ln in f if tag in ln]
            except OSError:
                lines = []
            if want(lines) or time.time() >= until:
                return lines
            time.sleep(0.02)


UP_RE = re.compile(r"upstream \S+?:\d+(?: \([^)]*\))?: (.*)$")
SETUP_RE = re.compile(r"connection refused|name resolution|cannot resolve|"
                      r"connect timed out|no descriptor|cannot create", re.I)


def refusal_reason(lines):
    for ln in reversed(lines):
        m = UP_RE.search(ln)
        if m:
            return m.group(1)
    return None


def judge(r, row, ov, server_failed=False):
    """Set r["expect"], r["ok"], r["why"]."""
    r["expect"] = row["expect"] or ov
    rv, rtext = r["redtun"], r["redtun_text"]
    ok = rv == r["expect"]
    why = ""
    if ok and rv == "refuse" and row["reason"] and not (
            server_failed and row["server_may_fail"]):
        if not re.search(REASONS[row["reason"]], rtext, re.I):
            ok = False
            why = "reason not /%s/" % REASONS[row["reason"]]
    if not ok and not why:
        why = "MISMATCH"
    r["ok"], r["why"] = ok, why


def md_cell(s, n=110):
    s = s.replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= n else s[:n - 3] + "..."


def cmd_run(d, ports_file, log_path, md_path, refused_file=None):
    t0 = time.time()
    deadline = t0 + RUN_DEADLINE
    with open(os.path.join(d, "cases.json")) as f:
        groups = json.load(f)
    ports = {}
    with open(ports_file) as f:
        for ln in f:
            p = ln.split()
            if len(p) == 4:
                ports[p[0]] = tuple(int(x) for x in p[1:])
    refused = {}
    if refused_file:
        with open(refused_file) as f:
            for ln in f:
                p = ln.rstrip("\n").split(" ", 1)
                if p[0]:
                    refused[p[0]] = p[1] if len(p) > 1 else ""
    for g in groups:
        if g["service"] not in ports:
            die("no ports for service %s" % g["service"])
        po, pu, pa = ports[g["service"]]
        g["oracle_l"] = Listener(g, "oracle", po, deadline)
        g["redtun_l"] = Listener(g, "redtun", pu, deadline)
        g["accept"] = pa
    rlog = RedtunLog(log_path)
    results = []
    errors = []

    for g in groups:
        svc = g["service"]
        for k, row in enumerate(g["rows"]):
            if time.time() > deadline - 2 * IO_TIMEOUT:
                die("out of time before case %s" % row["name"])
            r = {"name": row["name"], "host": g["host"], "row": row}
            results.append(r)
            # The oracle.
            ov, otext = oracle(g, row, ports[svc][0])
            sres = g["oracle_l"].wait_result(k, IO_TIMEOUT)
            if ov == "error":
                errors.append("%s: %s" % (row["name"], otext))
            if sres is None:
                errors.append("%s: the oracle's server saw no connection"
                              % row["name"])
            elif server_side_failure(sres):
                otext = "%s (server: %s)" % (otext, sres)
                if not row["server_may_fail"]:
                    errors.append("%s: the server failed the oracle's "
                                  "handshake itself: %s" % (row["name"], sres))
            r["oracle"], r["oracle_text"] = ov, otext
            # redtun.
            if svc in refused:
                rv, rtext = "refuse", "config rejected: " + re.sub(
                    r'"[^"]*"', '"FILE"', refused[svc])
                r["redtun"], r["redtun_text"] = rv, rtext
                judge(r, row, ov)
                continue
            rv, lport, buf = redtun_probe(g["accept"])
            sres = g["redtun_l"].wait_result(k, IO_TIMEOUT)
            until = time.time() + LOG_WAIT
            if rv == "accept":
                lines = rlog.lines_for(svc, lport, until, lambda ls: any(
                    "connected to" in x for x in ls))
                conn = [x for x in lines if "connected to" in x]
                rtext = conn[-1].split("connected to", 1)[1].strip() \
                    if conn else "(no 'connected to' log line)"
                if not conn or "certificate verified" not in conn[-1]:
                    rv = "accept-unverified"
            else:
                lines = rlog.lines_for(svc, lport, until,
                                       lambda ls: refusal_reason(ls) is not None)
                rtext = refusal_reason(lines) or "(no refusal log line)"
                if rv == "error":
                    rtext = "unexpected reply %r; %s" % (buf[:40], rtext)
            if sres is None:
                errors.append("%s: redtun never reached the upstream server "
                              "(log: %s)" % (row["name"], rtext))
            elif rv != "accept" and SETUP_RE.search(rtext):
                errors.append("%s: redtun could not reach the upstream: %s"
                              % (row["name"], rtext))
            server_failed = sres is not None and server_side_failure(sres)
            if server_failed:
                rtext += " (server: %s)" % sres
            r["redtun"], r["redtun_text"] = rv, rtext
            judge(r, row, ov, server_failed)
            if len(errors) >= 3:
                break
        if len(errors) >= 3:
            errors.append("stopped after these errors")
            break
        g["probed"] = True

    # redtun must have made exactly one upstream connection per probe (the
    # rows of a group are served in turn, so an extra one shifts them).
    for g in groups:
        n = len(g["redtun_l"].results)
        if g.get("probed") and g["service"] not in refused and \
                n != len(g["rows"]):
            errors.append("service %s: %d upstream connections for %d probes"
                          % (g["service"], n, len(g["rows"])))

    # Rows of one group that must agree (the same chain twice).
    by = {}
    for r in results:
        if r["name"].startswith("misordered#"):
            by.setdefault("misordered", set()).add(r["redtun"])
    for gname, vs in by.items():
        if len(vs) > 1:
            for r in results:
                if r["name"].startswith(gname + "#"):
                    r["ok"] = False
                    r["why"] = "verdict changed between connections"

    # Sanity of the setup itself: the oracle must accept the positive
    # control and refuse the negative one; both verdicts must occur.
    names = {r["name"]: r for r in results}
    if "control" in names and names["control"]["oracle"] != "accept":
        errors.append("the oracle refuses the positive control: %s"
                      % names["control"]["oracle_text"])
    if "control-wrong-host" in names and \
            names["control-wrong-host"]["oracle"] != "refuse":
        errors.append("the oracle accepts the negative control")
    if len(results) > 10 and len({r["oracle"] for r in results}) < 2:
        errors.append("the oracle gave the same verdict for every case")

    # The table.
    out = ["| # | case | host | OpenSSL | redtun | expected | ok? | note |",
           "|---|---|---|---|---|---|---|---|"]
    for n, r in enumerate(results, 1):
        o = r["oracle"] + (": " + r["oracle_text"] if r["oracle_text"] else "")
        rt = r["redtun"] + (": " + r["redtun_text"]
                            if r["redtun"] != "accept" else "")
        exp = r["expect"] + (" (override)" if r["row"]["expect"] else "")
        if r["row"]["reason"]:
            exp += " /%s/" % REASONS[r["row"]["reason"]]
        out.append("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
            n, r["name"], r["host"], md_cell(o), md_cell(rt), md_cell(exp),
            "ok" if r["ok"] else "**FAIL** " + r["why"],
            md_cell(r["row"]["note"])))
    bad = [r for r in results if not r["ok"]]
    agree = sum(1 for r in results if r["redtun"] == r["oracle"])
    summary = ("%d cases: %d as expected, %d failing; redtun agrees with "
               "OpenSSL on %d, %d documented overrides; %.1f s" % (
                   len(results), len(results) - len(bad), len(bad), agree,
                   sum(1 for r in results if r["row"]["expect"]),
                   time.time() - t0))
    text = "\n".join(out) + "\n\n" + summary + "\n"
    with open(md_path, "w") as f:
        f.write("# redtun vs OpenSSL: server-certificate verification\n\n")
        f.write(text)
    log(text)
    with open(os.path.join(d, "counts"), "w") as f:
        f.write("%d %d %d\n" % (len(results), len(bad), agree))
    for r in bad:
        sys.stderr.write("tls_matrix: FAIL %s: OpenSSL %s, redtun %s, "
                         "expected %s: %s [%s]\n" % (
                             r["name"], r["oracle"], r["redtun"], r["expect"],
                             r["why"], r["redtun_text"]))
    if errors:
        for e in errors:
            sys.stderr.write("tls_matrix: ERROR: %s\n" % e)
        return 99
    return 1 if bad else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "gen":
        cmd_gen(argv[2])
        return 0
    if len(argv) in (6, 7) and argv[1] == "run":
        return cmd_run(*argv[2:])
    sys.stderr.write(__doc__)
    return 99


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except SystemExit:
        raise
    except BaseException:
        # A bug or an unexpected failure of the runner itself: never let
        # it look like a verdict (exit 1).
        import traceback
        traceback.print_exc()
        sys.exit(99)
