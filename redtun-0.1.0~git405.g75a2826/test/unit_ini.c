/*
 * Unit tests for conf_ini: stunnel's format read with stunnel's rules and
 * written as libconfig text, with the map back to the stunnel lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "conf.h"
#include "conf_ini.h"

#include "unit_check.h"

#define CHECK_STR(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {		\
		fprintf(stderr, "%s:%d: got:\n%s\nwanted:\n%s\n",	\
		    __FILE__, __LINE__, a_ ? a_ : "(null)",		\
		    b_ ? b_ : "(null)");				\
		failures++;						\
	}								\
} while (0)

#define CHECK_HAS(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || strstr(a_, b_) == NULL) {			\
		fprintf(stderr, "%s:%d: \"%s\" lacks \"%s\"\n",		\
		    __FILE__, __LINE__, a_ ? a_ : "(null)", b_);	\
		failures++;						\
	}								\
} while (0)

static const char AWS[] =
    "fips = no\n"
    "setuid = root\n"
    "setgid = root\n"
    "pid = /var/run/stunnel.pid\n"
    "debug = 7\n"
    "delay = yes\n"
    "options = NO_SSLv2\n"
    "options = NO_SSLv3\n"
    "[redis-cli]\n"
    "   client = yes\n"
    "   accept = 127.0.0.1:6379\n"
    "   connect = primary.ssltest.wif01h.use1.cache.amazonaws.com:6379\n"
    "[redis-cli-replica]\n"
    "   client = yes\n"
    "   accept = 127.0.0.1:6380\n"
    "   connect = ssltest-02.ssltest.wif01h.use1.cache.amazonaws.com:6379\n";

static const char AWS_OUT[] =
    "# redtun configuration converted from stunnel's t.conf by redtun "
    "--convert\n"
    "# (each setting is followed by the stunnel line it came from)\n"
    "fips = false;  # fips = no\n"
    "setuid = \"root\";  # setuid = root\n"
    "setgid = \"root\";  # setgid = root\n"
    "pid = \"/var/run/stunnel.pid\";  # pid = /var/run/stunnel.pid\n"
    "debug = \"7\";  # debug = 7\n"
    "delay = true;  # delay = yes\n"
    "# options = NO_SSLv2  (redtun: redtun never enables SSLv2, SSLv3, "
    "TLS 1.0, TLS 1.1 or compression)\n"
    "# options = NO_SSLv3  (redtun: redtun never enables SSLv2, SSLv3, "
    "TLS 1.0, TLS 1.1 or compression)\n"
    "services = {\n"
    "  redis-cli = {  # [redis-cli]\n"
    "    client = true;  # client = yes\n"
    "    accept = \"127.0.0.1:6379\";  # accept = 127.0.0.1:6379\n"
    "    connect = \"primary.ssltest.wif01h.use1.cache.amazonaws.com:6379\";"
    "  # connect = primary.ssltest.wif01h.use1.cache.amazonaws.com:6379\n"
    "  };\n"
    "  redis-cli-replica = {  # [redis-cli-replica]\n"
    "    client = true;  # client = yes\n"
    "    accept = \"127.0.0.1:6380\";  # accept = 127.0.0.1:6380\n"
    "    connect = \"ssltest-02.ssltest.wif01h.use1.cache.amazonaws.com:"
    "6379\";  # connect = ssltest-02.ssltest.wif01h.use1.cache.amazonaws."
    "com:6379\n"
    "  };\n"
    "};\n";

static const char LIBCONFIG[] =
    "# redtun\n"
    "pid = \"/run/redtun.pid\";\n"
    "services = {\n"
    "  a = { client = true; accept = \"127.0.0.1:1\"; connect = \"h:2\"; };\n"
    "};\n";

/* Translate ${text}; the text must parse as libconfig. */
static struct ini *
tr(const char *text, char *why, size_t whylen)
{
	struct ini *ini;
	config_t c;

	ini = ini_translate("t.conf", text, strlen(text), 0, why, whylen);
	if (ini == NULL)
		return (NULL);
	config_init(&c);
	if (!config_read_string(&c, ini_text(ini, NULL))) {
		fprintf(stderr, "libconfig: %d: %s\n%s", config_error_line(&c),
		    config_error_text(&c), ini_text(ini, NULL));
		failures++;
	}
	config_destroy(&c);
	return (ini);
}

/* The whole text of ${in}'s translation is ${out}. */
static void
same_text(const char *in, const char *out)
{
	char why[512];
	struct ini *ini = tr(in, why, sizeof(why));

	if (ini == NULL) {
		fprintf(stderr, "refused: %s\n", why);
		failures++;
		return;
	}
	CHECK_STR(ini_text(ini, NULL), out);
	ini_free(ini);
}

/* ${in} is refused with exactly ${err}, or with a text holding it. */
static void
refused(const char *in, const char *err, int exact)
{
	char why[512];
	struct ini *ini = tr(in, why, sizeof(why));

	if (ini != NULL) {
		fprintf(stderr, "accepted, wanted \"%s\":\n%s", err,
		    ini_text(ini, NULL));
		failures++;
		ini_free(ini);
		return;
	}
	if (exact)
		CHECK_STR(why, err);
	else
		CHECK_HAS(why, err);
}

/* The generated line holding ${needle} comes from t.conf line ${line}. */
static void
maps(const struct ini *ini, const char *needle, int line)
{
	const char *t = ini_text(ini, NULL), *p = strstr(t, needle), *src;
	int gen = 1, l = -1;

	if (p == NULL) {
		fprintf(stderr, "no \"%s\" in:\n%s", needle, t);
		failures++;
		return;
	}
	for (; t < p; t++)
		gen += *t == '\n';
	src = ini_source(ini, gen, &l);
	if (src == NULL || l != line) {
		fprintf(stderr, "\"%s\" (line %d) maps to %s:%d, not %d\n",
		    needle, gen, src ? src : "-", l, line);
		failures++;
	}
}

static void
test_detect(void)
{
	CHECK(ini_detect(AWS, strlen(AWS)) == 1);
	CHECK(ini_detect(LIBCONFIG, strlen(LIBCONFIG)) == 0);
	CHECK(ini_detect("; only a comment\n", 17) == 1);
	CHECK(ini_detect("debug = 7\npid = /x\n", 19) == 1);
	CHECK(ini_detect("debug = 7;\n", 11) == 0);
	CHECK(ini_resembles(AWS, strlen(AWS)) == 1);
	CHECK(ini_resembles(LIBCONFIG, strlen(LIBCONFIG)) == 0);
	CHECK(ini_resembles("pid = \"/x\";\nservices = {\n[a]\n", 29) == 1);
	/* libconfig without braces: a quoted value, @include. */
	CHECK(ini_detect("pid = \"/x\"\ndebug = 7\n", 20) == 0);
	CHECK(ini_detect("debug = 7\n@include \"/s.lc\"\n", 27) == 0);
}

/* What the reviewers found: each would fail without its fix. */
static void
test_review(void)
{
	char why[512];
	struct ini *ini;

	/* A section's connect targets follow the global ones (stunnel). */
	if ((ini = tr("client = yes\nconnect = g.example:1\n[a]\n"
	    "accept = 127.0.0.1:7000\nconnect = s.example:2\n", why,
	    sizeof(why))) == NULL) {
		fprintf(stderr, "global connect: %s\n", why);
		failures++;
	} else {
		maps(ini, "connect = [ \"g.example:1\",", 2);
		maps(ini, "  \"s.example:2\" ];", 5);
		ini_free(ini);
	}
	/* Option names and levels in any case, as stunnel takes them. */
	if ((ini = tr("options = no_sslv3\n[a]\nclient = yes\n"
	    "accept = 127.0.0.1:7000\nconnect = s.example:2\n", why,
	    sizeof(why))) == NULL) {
		fprintf(stderr, "options case: %s\n", why);
		failures++;
	}
	ini_free(ini);
	/* A global verify = 1 is a client-mode check when all are clients. */
	if ((ini = tr("verify = 1\n[a]\nclient = yes\n"
	    "accept = 127.0.0.1:7000\nconnect = s.example:2\n", why,
	    sizeof(why))) == NULL) {
		fprintf(stderr, "global verify = 1: %s\n", why);
		failures++;
	}
	ini_free(ini);
	refused("verify = 1\n[a]\naccept = 7000\nconnect = 6379\n",
	    "optional client certificates", 0);
	/* A global checkHost plus a section's is stunnel's "any of". */
	refused("checkHost = a.example\n[a]\ncheckHost = b.example\n",
	    "one name or address", 0);
}

static void
test_aws(void)
{
	char why[512];
	struct ini *ini;
	size_t i;

	same_text(AWS, AWS_OUT);
	if ((ini = tr(AWS, why, sizeof(why))) == NULL) {
		fprintf(stderr, "AWS refused: %s\n", why);
		failures++;
		return;
	}
	maps(ini, "fips = false", 1);
	maps(ini, "redis-cli = {", 9);
	maps(ini, "accept = \"127.0.0.1:6380\"", 15);
	CHECK(ini_source(ini, 1, &(int){ 0 }) == NULL);
	CHECK(ini_nnotices(ini) == 4);
	CHECK_STR(ini_notice(ini, 0), "t.conf:7: options = NO_SSLv2: redtun "
	    "never enables SSLv2, SSLv3, TLS 1.0, TLS 1.1 or compression");
	CHECK_STR(ini_notice(ini, 2), "[redis-cli] stunnel would not verify "
	    "this server; redtun verifies the chain against the system trust "
	    "store and the host name primary.ssltest.wif01h.use1.cache."
	    "amazonaws.com, and uses TLS 1.2 or later (set verifyChain = no "
	    "to match stunnel, not recommended)");
	for (i = 0; i < ini_nnotices(ini); i++)
		CHECK(strchr(ini_notice(ini, i), '\n') == NULL);
	ini_free(ini);
	ini_free(NULL);
}

static void
test_lines(void)
{
	char why[512];
	struct ini *ini;

	/* BOM, CRLF, trailing blanks, any case; no inline comments. */
	same_text("\xef\xbb\xbf[a]\r\nCLIENT = Yes \t\r\nconnect = h:1 ; x\r\n"
	    "\r\n; note\r\n",
	    "# redtun configuration converted from stunnel's t.conf by redtun "
	    "--convert\n"
	    "# (each setting is followed by the stunnel line it came from)\n"
	    "services = {\n"
	    "  a = {  # [a]\n"
	    "    client = true;  # CLIENT = Yes\n"
	    "    connect = \"h:1 ; x\";  # connect = h:1 ; x\n"
	    "    # ; note\n"
	    "  };\n"
	    "};\n");
	refused("[a]\nno equals here\n",
	    "t.conf:2: \"no equals here\": No '=' found", 1);
	refused("[a]\nx\001y\n", "t.conf:2: \"x\\x01y\": No '=' found", 1);
	refused("[a]\n[a]\n", "t.conf:2: [a]: the section is already defined "
	    "at t.conf:1", 1);
	refused("[1a]\n", "t.conf:1: [1a]: redtun service names are letters, "
	    "digits, '-' and '_', starting with a letter", 1);
	refused("[a]\n[True]\n", "t.conf:2: [True]: redtun service names "
	    "cannot be true or false (libconfig's booleans)", 1);
	refused("client = yes\nconnect = 1\n", "t.conf:1: (inetd mode): a "
	    "stunnel file without [sections] runs in inetd mode, which redtun "
	    "does not support; put the options under a [service] section", 1);
	refused("[a]\nconnect = 1\nPID = /x\n", "t.conf:3: pid: is a global "
	    "option; stunnel accepts it only before the first [section]", 1);
	refused("[a]\nsetuid = nobody\n", "t.conf:2: setuid: applies to "
	    "Unix-socket accept addresses, which redtun does not support", 1);
	refused("[a]\nfrobnicate = 1\n", "t.conf:2: frobnicate: unknown "
	    "option", 1);
	refused("[a]\nclient = maybe\n", "t.conf:2: client: expected yes or "
	    "no, got \"maybe\"", 1);
	refused("[a]\nTIMEOUTidle = -1\n", "t.conf:2: TIMEOUTidle: expected a "
	    "number up to 999999999, got \"-1\"", 1);
	refused("[a]\nTIMEOUTidle = 12345678901\n", "expected a number", 0);
	/* libconfig keeps 32 bits: 4294967296 would be read as 0. */
	refused("[a]\nTIMEOUTidle = 4294967296\n", "up to 999999999", 0);
	refused("[a]\ninclude = /tmp\n", "t.conf:2: include: is not allowed "
	    "here", 1);
	if (ini_translate("t.conf", "[a]\nx = \0\n", 9, 0, why,
	    sizeof(why)) != NULL)
		failures++;
	else
		CHECK_HAS(why, "t.conf:2: a NUL byte");
	{
		char *big = malloc(20000);

		memcpy(big, "[a]\nsni = ", 10);
		memset(big + 10, 'x', 19000);
		strcpy(big + 19010, "\n");
		refused(big, "t.conf:2: line too long", 0);
		free(big);
	}

	/* Repeated connect: one list, each element mapped to its line. */
	if ((ini = tr("[a]\nclient = yes\nconnect = a:1\nsni = s\n"
	    "connect = b:2\nconnect = c:3\n", why, sizeof(why))) == NULL) {
		fprintf(stderr, "refused: %s\n", why);
		failures++;
		return;
	}
	CHECK_HAS(ini_text(ini, NULL), "    connect = [ \"a:1\",  # connect = "
	    "a:1\n      \"b:2\",  # connect = b:2\n      \"c:3\" ];  # connect "
	    "= c:3\n    sni = \"s\";  # sni = s\n");
	maps(ini, "\"a:1\",", 3);
	maps(ini, "\"b:2\",", 5);
	maps(ini, "\"c:3\" ]", 6);
	maps(ini, "sni = ", 4);
	ini_free(ini);

	/* A repeated option: stunnel keeps the last one. */
	if ((ini = tr("[a]\nsni = x\nsni = y\n", why, sizeof(why))) != NULL) {
		CHECK_HAS(ini_text(ini, NULL), "    # sni = x  (redtun: sni: "
		    "overridden by line 3)\n    sni = \"y\";");
		ini_free(ini);
	} else
		failures++;
}

static void
test_values(void)
{
	char why[512];
	struct ini *ini;

	/* key defaults to cert; client defaults to false; escaping. */
	same_text("cert = /g.pem\n[a]\naccept = 7000\ncert = /a\"\\\001.pem\n"
	    "[b]\nkey = /k.pem\ncert = /b.pem\nTIMEOUTclose = 000\n",
	    "# redtun configuration converted from stunnel's t.conf by redtun "
	    "--convert\n"
	    "# (each setting is followed by the stunnel line it came from)\n"
	    "cert = \"/g.pem\";  # cert = /g.pem\n"
	    "key = \"/g.pem\";  # cert = /g.pem\n"
	    "services = {\n"
	    "  a = {  # [a]\n"
	    "    client = false;  # stunnel's default: server mode\n"
	    "    accept = \"0.0.0.0:7000\";  # accept = 7000\n"
	    "    cert = \"/a\\\"\\\\\\x01.pem\";  # cert = /a\"\\\\x01.pem\n"
	    "    key = \"/a\\\"\\\\\\x01.pem\";  # cert = /a\"\\\\x01.pem\n"
	    "  };\n"
	    "  b = {  # [b]\n"
	    "    client = false;  # stunnel's default: server mode\n"
	    "    key = \"/k.pem\";  # key = /k.pem\n"
	    "    cert = \"/b.pem\";  # cert = /b.pem\n"
	    "    TIMEOUTclose = 0;  # TIMEOUTclose = 000\n"
	    "  };\n"
	    "};\n");
	/* stunnel's addresses split at the last ':'; redtun's need [v6]. */
	if ((ini = tr("[a]\naccept = :::6379\nconnect = ::1:6380\n"
	    "connect = h:1\n", why, sizeof(why)))) {
		CHECK_HAS(ini_text(ini, NULL), "accept = \"[::]:6379\";");
		CHECK_HAS(ini_text(ini, NULL), "connect = [ \"[::1]:6380\",");
		ini_free(ini);
	} else
		failures++;
	refused("[a]\naccept = /run/redis.sock\n", "t.conf:2: accept: "
	    "Unix-socket addresses are not supported", 1);
	/* A global key stays the key of a section with its own cert. */
	if ((ini = tr("key = /k\n[a]\ncert = /c\n", why, sizeof(why)))) {
		CHECK(strstr(ini_text(ini, NULL), "key = \"/c\"") == NULL);
		ini_free(ini);
	} else
		failures++;
	/* A global client = yes: no default in the sections. */
	if ((ini = tr("client = yes\n[a]\nconnect = h:1\n", why,
	    sizeof(why)))) {
		CHECK(strstr(ini_text(ini, NULL), "client = false") == NULL);
		ini_free(ini);
	} else
		failures++;
	/* verify resolves the mode written after it. */
	if ((ini = tr("[a]\nverify = 1\nclient = yes\nconnect = h:1\n", why,
	    sizeof(why)))) {
		CHECK_HAS(ini_text(ini, NULL), "verifyChain = true;  # verify "
		    "= 1\n");
		ini_free(ini);
	} else
		failures++;
	same_text("[a]\nsslVersion = TLSv1.3\noptions = NO_TLSv1_3\n",
	    "# redtun configuration converted from stunnel's "
	    "t.conf by redtun --convert\n"
	    "# (each setting is followed by the stunnel line it came from)\n"
	    "services = {\n"
	    "  a = {  # [a]\n"
	    "    client = false;  # stunnel's default: server mode\n"
	    "    sslVersionMin = \"TLSv1.3\";  # sslVersion = TLSv1.3\n"
	    "    # sslVersion = TLSv1.3  (redtun: sslVersionMax: overridden "
	    "by line 3)\n"
	    "    sslVersionMax = \"TLSv1.2\";  # options = NO_TLSv1_3\n"
	    "  };\n"
	    "};\n");
}

/* Each refusal names its line (3: after "[a]" and "client = ..."). */
static void
test_refusals(void)
{
	static const struct {
		const char *line, *err;
		int client;
	} svc[] = {
		{ "checkHost = b", "checkHost: redtun checks one name", 1 },
		{ "verify = 1", "verify: optional client certificates", 0 },
		{ "verify = 3", "verify: certificate pinning", 1 },
		{ "verify = 4", "verify: certificate pinning", 0 },
		{ "verify = 5", "verify: expected 0..4, got \"5\"", 1 },
		{ "verifyPeer = yes", "verifyPeer: certificate pinning", 1 },
		{ "requireCert = yes", "requireCert: a client certificate "
		    "required but not verified", 0 },
		{ "sslVersion = TLSv1.1", "sslVersion: redtun never speaks TLS "
		    "below 1.2", 1 },
		{ "sslVersionMax = TLSv1", "sslVersionMax: redtun never speaks "
		    "TLS below 1.2", 1 },
		{ "options = LEGACY_SERVER_CONNECT", "options = "
		    "LEGACY_SERVER_CONNECT: unsafe legacy renegotiation is never "
		    "allowed", 1 },
		{ "options = ALLOW_UNSAFE_LEGACY_RENEGOTIATION", "options = "
		    "ALLOW_UNSAFE_LEGACY_RENEGOTIATION: unsafe legacy "
		    "renegotiation is never allowed", 1 },
		{ "options = NO_SUCH", "options: unknown option name "
		    "\"NO_SUCH\"", 1 },
		{ "socket = l:SO_BINDTODEVICE=eth0", "socket = "
		    "l:SO_BINDTODEVICE=eth0: changes where redtun binds or "
		    "connects, which is not supported", 1 },
		{ "socket = l:IP_TRANSPARENT=1", "socket = "
		    "l:IP_TRANSPARENT=1: changes where redtun binds", 1 },
		{ "socket = x:TCP_NODELAY=1", "socket: expected "
		    "a|l|r:OPTION=VALUE", 1 },
		{ "socket = l:SO_WHAT=1", "socket = l:SO_WHAT=1: unknown "
		    "socket option", 1 },
		{ "sessiond = 127.0.0.1:1", "sessiond: ", 1 },
		{ "ticketKeySecret = 00", "ticketKeySecret: ", 1 },
		{ "ticketMacSecret = 00", "ticketMacSecret: ", 1 },
		{ "libwrap = yes", "libwrap: TCP wrappers", 1 },
		{ "OCSPaia = yes", "OCSPaia: OCSP is not supported", 1 },
		{ "OCSPnonce = yes", "OCSPnonce: OCSP is not supported", 1 },
		{ "OCSPrequire = yes", "OCSPrequire: OCSP is not supported", 1 },
		{ "OCSPflag = NOCERTS", "OCSPflag: OCSP is not supported", 1 },
		{ "OCSP = http://o", "OCSP: OCSP is not supported", 1 },
		{ "CRLfile = /c", "CRLfile: certificate revocation lists", 1 },
		{ "CRLpath = /c", "CRLpath: certificate revocation lists", 1 },
		{ "transparent = source", "transparent: ", 1 },
		{ "local = 10.0.0.1", "local: choosing the source address", 1 },
		{ "protocol = smtp", "protocol: protocol negotiation (smtp) is "
		    "not supported: redtun speaks TLS directly", 1 },
		{ "protocolHost = h:1", "protocolHost: protocol negotiation", 1 },
		{ "protocolAuthentication = ntlm", "protocolAuthentication: "
		    "protocol negotiation", 1 },
		{ "protocolDomain = d", "protocolDomain: protocol "
		    "negotiation", 1 },
		{ "protocolHeader = h", "protocolHeader: protocol "
		    "negotiation", 1 },
		{ "protocolUsername = u", "protocolUsername: protocol "
		    "negotiation", 1 },
		{ "exec = /bin/sh", "exec: running a local program", 1 },
		{ "execArgs = sh", "execArgs: running a local program", 1 },
		{ "pty = yes", "pty: running a local program", 1 },
		{ "retry = yes", "retry: running a local program", 1 },
		{ "engineId = pkcs11", "engineId: OpenSSL", 1 },
		{ "engineNum = 1", "engineNum: OpenSSL", 1 },
		{ "CAengine = x", "CAengine: OpenSSL", 1 },
		{ "config = x:y", "config: OpenSSL", 1 },
		{ "CAstore = org.openssl.winstore://", "CAstore: OpenSSL", 1 },
		{ "PSKsecrets = /p", "PSKsecrets: pre-shared keys", 1 },
		{ "PSKidentity = i", "PSKidentity: pre-shared keys", 1 },
		{ "redirect = h:1", "redirect: ", 1 },
		{ "ident = u", "ident: ", 1 },
		{ "checkEmail = a@b", "checkEmail: ", 1 },
		{ "debug = loud", "debug: expected [facility.]level", 1 },
	};
	static const struct {
		const char *line, *err;
	} glob[] = {
		{ "compression = zlib", "compression: TLS compression is "
		    "insecure (CRIME)" },
		{ "log = overwrite", "log: " },
		{ "engine = pkcs11", "engine: OpenSSL" },
		{ "engineCtrl = a:b", "engineCtrl: OpenSSL" },
		{ "engineDefault = ALL", "engineDefault: OpenSSL" },
		{ "provider = legacy", "provider: OpenSSL" },
		{ "providerParameter = a=b", "providerParameter: OpenSSL" },
		{ "setEnv = A=b", "setEnv: " },
		{ "foreground = always", "foreground: expected yes, quiet or "
		    "no" },
		{ "workers = many", "workers: expected a number or auto" },
	};
	char in[256], err[256];
	size_t i;

	for (i = 0; i < sizeof(svc) / sizeof(svc[0]); i++) {
		snprintf(in, sizeof(in), "[a]\nclient = %s\n%s\n"
		    "checkHost = a\n", svc[i].client ? "yes" : "no",
		    svc[i].line);
		if (strncmp(svc[i].line, "checkHost", 9) == 0)
			snprintf(in, sizeof(in), "[a]\nclient = yes\n"
			    "checkHost = a\n%s\n", svc[i].line);
		snprintf(err, sizeof(err), "t.conf:%d: %s",
		    strncmp(svc[i].line, "checkHost", 9) == 0 ? 4 : 3,
		    svc[i].err);
		refused(in, err, 0);
	}
	for (i = 0; i < sizeof(glob) / sizeof(glob[0]); i++) {
		snprintf(in, sizeof(in), "debug = 5\n%s\n[a]\n", glob[i].line);
		snprintf(err, sizeof(err), "t.conf:2: %s", glob[i].err);
		refused(in, err, 0);
	}
}

static void
test_notices(void)
{
	static const char in[] =
	    "debug = daemon.info\n"			/* 1 */
	    "foreground = quiet\n"			/* 2 */
	    "RNDfile = /dev/urandom\n"			/* 3 */
	    "[a]\n"					/* 4 */
	    "client = yes\n"				/* 5 */
	    "connect = h.example:1\n"			/* 6 */
	    "socket = l:TCP_NODELAY=1\n"		/* 7 */
	    "socket = r:SO_KEEPALIVE=yes\n"		/* 8 */
	    "curves = prime256v1\n"			/* 9 */
	    "sslVersionMin = TLSv1\n"			/* 10 */
	    "ciphers = HIGH:!aNULL\n"			/* 11 */
	    "options = -NO_SSLv3\n"			/* 12 */
	    "TIMEOUTbusy = 10\n"			/* 13 */
	    "debug = 7\n"				/* 14 */
	    "verifyChain = no\n";			/* 15 */
	static const char *const want[] = {
		"t.conf:2: foreground: quiet: redtun logs to 'output', or "
		    "stderr without it",
		"t.conf:3: RNDfile: wolfSSL seeds from the kernel",
		"t.conf:7: socket = l:TCP_NODELAY=1: already on for every "
		    "socket",
		"t.conf:8: socket = r:SO_KEEPALIVE=yes: redtun enables TCP "
		    "keepalive (60 s) on every connection",
		"t.conf:9: curves: redtun uses wolfSSL's default key-exchange "
		    "groups (X25519, P-256, P-384...)",
		"t.conf:10: sslVersionMin: raised to TLSv1.2: redtun never "
		    "speaks TLS below 1.2",
		"t.conf:11: ciphers: OpenSSL cipher expressions are not "
		    "evaluated; redtun keeps its allowlist of AEAD ECDHE suites",
		"t.conf:12: options = -NO_SSLv3: redtun's defaults cannot be "
		    "loosened",
		"t.conf:13: TIMEOUTbusy: redtun bounds the TLS handshake by "
		    "TIMEOUTconnect",
		"t.conf:14: debug: per-service log levels are not supported; "
		    "the global debug applies",
	};
	char why[512];
	struct ini *ini;
	size_t i;

	if ((ini = tr(in, why, sizeof(why))) == NULL) {
		fprintf(stderr, "refused: %s\n", why);
		failures++;
		return;
	}
	/* verifyChain = no: no security notice (redtun warns itself). */
	CHECK(ini_nnotices(ini) == sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_STR(ini_notice(ini, i), want[i]);
	CHECK_HAS(ini_text(ini, NULL), "debug = \"daemon.info\";");
	CHECK_HAS(ini_text(ini, NULL), "foreground = true;");
	CHECK_HAS(ini_text(ini, NULL), "    sslVersionMin = \"TLSv1.2\";  # "
	    "sslVersionMin = TLSv1\n");
	CHECK_HAS(ini_text(ini, NULL), "    # curves = prime256v1  (redtun: "
	    "redtun uses wolfSSL's default key-exchange groups (X25519, P-256, "
	    "P-384...))\n");
	maps(ini, "# curves", 9);
	ini_free(ini);
}

/* The "[NAME] ..." notices: no verification, chain only, off. */
static void
test_security(void)
{
	char why[512];
	struct ini *ini;

	if ((ini = tr("[a]\nclient = yes\nconnect = 10.1.2.3:6379\n"
	    "CApath = /etc/ssl/certs\n", why, sizeof(why))) != NULL) {
		CHECK(ini_nnotices(ini) == 1);
		CHECK_STR(ini_notice(ini, 0), "[a] stunnel would not verify "
		    "this server; redtun verifies the chain against CApath "
		    "/etc/ssl/certs and the IP address 10.1.2.3, and uses TLS "
		    "1.2 or later (set verifyChain = no to match stunnel, not "
		    "recommended)");
		ini_free(ini);
	} else
		failures++;
	if ((ini = tr("CAfile = /ca.pem\n[a]\nclient = yes\n"
	    "connect = r.example:6379\nverifyChain = yes\nsslVersion = "
	    "TLSv1.2\n", why, sizeof(why))) != NULL) {
		CHECK(ini_nnotices(ini) == 1);
		CHECK_STR(ini_notice(ini, 0), "[a] stunnel would accept any "
		    "certificate CAfile /ca.pem vouches for; redtun also checks "
		    "the host name r.example from connect (set checkHost to "
		    "name another)");
		ini_free(ini);
	} else
		failures++;
	/* options = NO_TLSv1_2 is a minimum version written too. */
	if ((ini = tr("[a]\nclient = yes\nconnect = r.example:6379\n"
	    "options = NO_TLSv1_2\n", why, sizeof(why))) != NULL) {
		CHECK(ini_nnotices(ini) == 1);
		CHECK(strstr(ini_notice(ini, 0), "TLS 1.2") == NULL);
		ini_free(ini);
	} else
		failures++;
	if ((ini = tr("[a]\nclient = yes\nconnect = r.example:6379\n"
	    "verify = 0\n[b]\naccept = 1\nconnect = 2\ncert = /c\n", why,
	    sizeof(why))) != NULL) {
		CHECK(ini_nnotices(ini) == 0);
		ini_free(ini);
	} else
		failures++;
}

/* A password never reaches a notice or an error. */
static void
test_password(void)
{
	static const char *const bad[] = {
		"[a]\npassword = SECRETPW\nverify = 9\n",
		"[a]\nprotocolPassword = SECRETPW\n",
		"[a]\npassword = SECRETPW\npassword SECRETPW\n",
	};
	char why[512];
	struct ini *ini;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if ((ini = tr(bad[i], why, sizeof(why))) != NULL) {
			failures++;
			ini_free(ini);
			continue;
		}
		CHECK(strstr(why, "SECRETPW") == NULL);
	}
	if ((ini = tr("[a]\nclient = yes\nconnect = h:1\npassword = SECRETPW\n"
	    "ciphers = ALL\nsocket = l:SO_LINGER=1:0\n", why, sizeof(why)))) {
		CHECK(ini_nnotices(ini) == 3);
		for (i = 0; i < ini_nnotices(ini); i++)
			CHECK(strstr(ini_notice(ini, i), "SECRETPW") == NULL);
		CHECK_HAS(ini_text(ini, NULL), "password = \"SECRETPW\";");
		ini_free(ini);
	} else
		failures++;
}

static int
write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return (-1);
	fputs(text, f);
	return (fclose(f));
}

static void
test_include(void)
{
	char dir[] = "/tmp/unit_ini.XXXXXX", loop[64], in[700], why[512];
	char path[600];
	struct ini *ini;
	const char *src;
	int line = 0;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		failures++;
		return;
	}
	snprintf(loop, sizeof(loop), "%s/loop", dir);
	/* strcmp order: "01-b" before "1-a"; a subdirectory is skipped. */
	if (write_file(dir, "1-a", "TIMEOUTidle = 5\n[c]\nclient = yes\n") ||
	    write_file(dir, "01-b", "; b\nsni = b\n") ||
	    mkdir(loop, 0700) != 0 ||
	    write_file(loop, "self", "")) {
		perror(dir);
		failures++;
		return;
	}
	snprintf(in, sizeof(in), "[a]\nclient = yes\ninclude = %s\n"
	    "connect = h:1\n", dir);
	if ((ini = ini_translate("t.conf", in, strlen(in), 1, why,
	    sizeof(why))) != NULL) {
		const char *t = ini_text(ini, NULL);

		CHECK_HAS(t, "  a = {  # [a]\n    client = true;  # client = "
		    "yes\n    # include = ");
		CHECK_HAS(t, "  (redtun: its files follow)\n    # ; b\n    sni = "
		    "\"b\";  # sni = b\n    TIMEOUTidle = 5;  # TIMEOUTidle = 5\n"
		    "  };\n  c = {  # [c]\n    client = true;  # client = yes\n"
		    "    connect = \"h:1\";  # connect = h:1\n  };\n");
		maps(ini, "TIMEOUTidle = 5", 1);
		maps(ini, "connect = \"h:1\"", 4);
		{
			const char *p = strstr(t, "sni = ");
			int gen = 1;

			for (; p && t < p; t++)
				gen += *t == '\n';
			snprintf(path, sizeof(path), "%s/01-b", dir);
			src = ini_source(ini, gen, &line);
			CHECK_STR(src, path);
			CHECK(line == 2);
		}
		ini_free(ini);
	} else {
		fprintf(stderr, "include refused: %s\n", why);
		failures++;
	}
	/* A directory that includes itself stops at depth 8. */
	snprintf(in, sizeof(in), "include = %s\n", loop);
	write_file(loop, "self", in);
	snprintf(in, sizeof(in), "[a]\ninclude = %s\n", loop);
	if ((ini = ini_translate("t.conf", in, strlen(in), 1, why,
	    sizeof(why))) != NULL) {
		failures++;
		ini_free(ini);
	} else
		CHECK_HAS(why, "/self:1: include: includes nested more than 8 "
		    "deep");
	snprintf(path, sizeof(path), "%s/self", loop);
	unlink(path);
	rmdir(loop);
	snprintf(path, sizeof(path), "%s/1-a", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/01-b", dir);
	unlink(path);
	rmdir(dir);
}

/* What common stunnel files become is what conf.c accepts. */
static void
test_conf_accepts(void)
{
	static const char *const files[] = {
		AWS,
		"[c]\nclient = yes\naccept = 127.0.0.1:7000\n"
		"connect = a.example:6379\nconnect = b.example:6379\n"
		"failover = rr\ndelay = yes\nverifyChain = yes\n"
		"CApath = /etc/ssl/certs\ncheckHost = example.com\n"
		"sni = example.com\nTIMEOUTidle = 600\nTIMEOUTconnect = 5\n"
		"sessionResume = no\noptions = NO_TLSv1_2\n"
		"ciphersuites = TLS_AES_128_GCM_SHA256\n"
		"sslVersionMin = TLSv1\ncurves = X25519\n",
		"debug = notice\nsetuid = nobody\n"
		"sslVersion = TLSv1.2\n"
		"[r]\nclient = yes\naccept = 6379\nconnect = ::1:6380\n"
		"verify = 2\ncheckIP = ::1\nusername = app\n"
		"password = s3cret\nreuse = yes\nprewarm = 2\nrole = primary\n"
		"ciphers = ECDHE-ECDSA-AES128-GCM-SHA256\n"
		"socket = l:TCP_NODELAY=1\n",
	};
	char why[512], cwhy[512];
	struct ini *ini;
	struct conf *cf;
	size_t i, len;
	const char *t;
	FILE *f;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if ((ini = tr(files[i], why, sizeof(why))) == NULL) {
			fprintf(stderr, "file %zu refused: %s\n", i, why);
			failures++;
			continue;
		}
		t = ini_text(ini, &len);
		if ((f = fmemopen((void *)(uintptr_t)t, len, "r")) == NULL) {
			failures++;
			ini_free(ini);
			continue;
		}
		if ((cf = conf_read(f, "t.conf", CONF_FORMAT_LIBCONFIG,
		    cwhy, sizeof(cwhy))) == NULL) {
			fprintf(stderr, "file %zu: conf_read: %s\n%s", i, cwhy,
			    t);
			failures++;
		}
		conf_free(cf);
		fclose(f);
		ini_free(ini);
	}
}

int
main(void)
{
	test_conf_accepts();
	test_detect();
	test_review();
	test_aws();
	test_lines();
	test_values();
	test_refusals();
	test_notices();
	test_security();
	test_password();
	test_include();
	if (failures > 0) {
		fprintf(stderr, "unit_ini: %d failures\n", failures);
		return (1);
	}
	printf("unit_ini: ok\n");
	return (0);
}
