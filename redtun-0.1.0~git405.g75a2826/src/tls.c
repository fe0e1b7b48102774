/*
 * TLS contexts and error reporting on top of the native wolfSSL API.
 * Debian builds wolfSSL with OPENSSL_COMPATIBLE_DEFAULTS (verify none,
 * TLS 1.1, anonymous and NULL suites), so every security-relevant knob is
 * set explicitly here and never left to the library.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "conf.h"
#include "tls.h"
#include "tls_trust.h"
#include "tls_verify.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/*
 * verify_cb clears the library's error on intermediates (redtun decides at
 * the leaf).  Without alternate chains wolfSSL would then add any CA a
 * peer sends, unverified, to the context's store: unbounded memory and a
 * lasting denial of service against the real issuers.
 */
#ifndef WOLFSSL_ALT_CERT_CHAINS
#error "wolfSSL must be built with --enable-altcertchains"
#endif

#ifdef WOLFSSL_AESNI
#define HAVE_FAST_AES 1
/* With AES-NI, AES-GCM is the fastest AEAD. */
#define DEFAULT_TLS13 "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:" \
	"TLS13-CHACHA20-POLY1305-SHA256"
#define DEFAULT_TLS12 "ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:" \
	"ECDHE-RSA-CHACHA20-POLY1305"
#else
#define HAVE_FAST_AES 0
/* Without AES-NI, ChaCha20-Poly1305 is about twice as fast as AES-GCM. */
#define DEFAULT_TLS13 "TLS13-CHACHA20-POLY1305-SHA256:" \
	"TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384"
#define DEFAULT_TLS12 "ECDHE-ECDSA-CHACHA20-POLY1305:" \
	"ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384"
#endif

/* The library refuses longer chains before redtun sees them. */
#ifdef MAX_CHAIN_DEPTH
#define LIB_CHAIN_DEPTH MAX_CHAIN_DEPTH
#else
#define LIB_CHAIN_DEPTH 9	/* wolfSSL 5.5.4's internal default */
#endif

int
tls_init(void)
{

	return (wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -1);
}

void
tls_shutdown(void)
{

	wolfSSL_Cleanup();
}

static int verify_cb(int, WOLFSSL_X509_STORE_CTX *);
static const char *cert_problem(int);

static WOLFSSL_METHOD *
method(const struct svc_conf *sc)
{

	if (sc->client) {
		if (sc->version_max == TLS_V1_2)
			return (wolfTLSv1_2_client_method());
		if (sc->version_min == TLS_V1_3)
			return (wolfTLSv1_3_client_method());
		return (wolfTLS_client_method());
	}
	if (sc->version_max == TLS_V1_2)
		return (wolfTLSv1_2_server_method());
	if (sc->version_min == TLS_V1_3)
		return (wolfTLSv1_3_server_method());
	return (wolfTLS_server_method());
}

static int
set_ciphers(WOLFSSL_CTX *ctx, const struct svc_conf *sc)
{
	char list[1024];
	const char *l13 = sc->ciphersuites ? sc->ciphersuites : DEFAULT_TLS13;
	const char *l12 = sc->ciphers ? sc->ciphers : DEFAULT_TLS12;

	if (sc->version_min == TLS_V1_3)
		snprintf(list, sizeof(list), "%s", l13);
	else if (sc->version_max == TLS_V1_2)
		snprintf(list, sizeof(list), "%s", l12);
	else
		snprintf(list, sizeof(list), "%s:%s", l13, l12);
	return (wolfSSL_CTX_set_cipher_list(ctx, list) == WOLFSSL_SUCCESS ?
	    0 : -1);
}

static int
load_trust(WOLFSSL_CTX *ctx, const struct svc_conf *sc, char *why,
    size_t whylen)
{
	int ret;

	if (sc->cafile != NULL || sc->capath != NULL) {
		/*
		 * An expired anchor loads (OpenSSL's behaviour): redtun's
		 * policy refuses chains that end in it, naming it.
		 */
		ret = wolfSSL_CTX_load_verify_locations_ex(ctx, sc->cafile,
		    sc->capath, WOLFSSL_LOAD_FLAG_DATE_ERR_OKAY);
		if (ret != WOLFSSL_SUCCESS) {
			struct conf_loc at = conf_where(NULL, sc, sc->cafile ?
			    "CAfile" : "CApath");

			snprintf(why, whylen, "%s:%d: %s: cannot load trust "
			    "anchors from \"%s\": %s%s", at.file, at.line,
			    sc->cafile ? "CAfile" : "CApath",
			    sc->cafile ? sc->cafile : sc->capath,
			    tls_error_text(ret), ret == ASN_AFTER_DATE_E ?
			    " (a certificate in it has expired)" :
			    ret == ASN_BEFORE_DATE_E ? " (a certificate in it "
			    "is not yet valid)" : "");
			return (-1);
		}
		return (0);
	}
	/* The system store; the bundle file is ~10x faster than the dir. */
	if (access(SYSTEM_CA_BUNDLE, R_OK) == 0)
		ret = wolfSSL_CTX_load_verify_locations(ctx, SYSTEM_CA_BUNDLE,
		    NULL);
	else
		ret = wolfSSL_CTX_load_system_CA_certs(ctx);
	if (ret != WOLFSSL_SUCCESS) {
		snprintf(why, whylen, "%s:%d: CAfile: not set and the system "
		    "trust store (%s) cannot be loaded: %s", sc->file,
		    sc->line, SYSTEM_CA_BUNDLE, tls_error_text(ret));
		return (-1);
	}
	return (0);
}

static int
load_identity(WOLFSSL_CTX *ctx, const struct svc_conf *sc, char *why,
    size_t whylen)
{
	char detail[160] = "its public key differs from the certificate's";
	struct conf_loc cert_at, key_at;
	int ret;

	if (sc->cert == NULL)
		return (0);
	cert_at = conf_where(NULL, sc, "cert");
	key_at = conf_where(NULL, sc, "key");
	ret = wolfSSL_CTX_use_certificate_chain_file(ctx, sc->cert);
	if (ret != WOLFSSL_SUCCESS) {
		snprintf(why, whylen, "%s:%d: cert: cannot load certificate "
		    "chain from \"%s\": %s", cert_at.file, cert_at.line,
		    sc->cert, tls_error_text(ret));
		return (-1);
	}
	ret = wolfSSL_CTX_use_PrivateKey_file(ctx, sc->key,
	    WOLFSSL_FILETYPE_PEM);
	if (ret != WOLFSSL_SUCCESS) {
		/* stunnel's key defaults to cert: say so when that is why. */
		snprintf(why, whylen, "%s:%d: key: cannot load private key from"
		    " \"%s\": %s", key_at.file, key_at.line, sc->key,
		    strcmp(sc->key, sc->cert) == 0 ? "the file holds no "
		    "usable private key (write key = FILE if the key is "
		    "elsewhere)" : tls_error_text(ret));
		return (-1);
	}
	if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS ||
	    tls_keypair_matches(sc->cert, sc->key, detail, sizeof(detail))) {
		snprintf(why, whylen, "%s:%d: key: \"%s\" does not match the "
		    "certificate in \"%s\" (%s)", key_at.file, key_at.line,
		    sc->key, sc->cert, detail);
		return (-1);
	}
	return (0);
}

/* Verification: the library's checks, then redtun's policy as verdict. */
static int
set_verification(WOLFSSL_CTX *ctx, const struct svc_conf *sc,
    struct tls_trust **trust, char *why, size_t whylen)
{
	char detail[256];

	if (!sc->verify_chain) {
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
		return (0);
	}
	/* A server verifying clients also demands a certificate. */
	wolfSSL_CTX_set_verify(ctx, sc->client ? WOLFSSL_VERIFY_PEER :
	    WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	    verify_cb);
	wolfSSL_CTX_set_verify_depth(ctx, TLS_MAX_INTERMEDIATES + 1);
	if (load_trust(ctx, sc, why, whylen))
		return (-1);
	/* After loading: a weak anchor is refused per connection, by name. */
	if (wolfSSL_CTX_SetMinRsaKey_Sz(ctx, 2048) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_SetMinEccKey_Sz(ctx, 256) != WOLFSSL_SUCCESS) {
		snprintf(why, whylen, "%s:%d: cannot set minimum key sizes",
		    sc->file, sc->line);
		return (-1);
	}
	if ((*trust = tls_trust_load(sc->cafile, sc->capath, detail,
	    sizeof(detail))) == NULL) {
		struct conf_loc at = conf_where(NULL, sc, sc->capath &&
		    !sc->cafile ? "CApath" : "CAfile");

		snprintf(why, whylen, "%s:%d: %s: %s", at.file, at.line,
		    sc->cafile ? "CAfile" : sc->capath ? "CApath" : "CAfile",
		    detail);
		return (-1);
	}
	return (0);
}

WOLFSSL_CTX *
tls_ctx_new(const struct svc_conf *sc,
    int (*on_session)(WOLFSSL *, WOLFSSL_SESSION *),
    struct tls_trust **trust, char *why, size_t whylen)
{
	WOLFSSL_CTX *ctx;

	*trust = NULL;
	if ((ctx = wolfSSL_CTX_new(method(sc))) == NULL) {
		snprintf(why, whylen, "%s:%d: cannot create a TLS context",
		    sc->file, sc->line);
		return (NULL);
	}
	if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) !=
	    WOLFSSL_SUCCESS) {
		snprintf(why, whylen, "%s:%d: cannot set TLS 1.2 as the minimum"
		    " version", sc->file, sc->line);
		goto err;
	}
	if (set_ciphers(ctx, sc)) {
		snprintf(why, whylen, "%s:%d: ciphers: the TLS library accepts "
		    "none of the configured suites", sc->file,
		    sc->ciphers_line ? sc->ciphers_line : sc->line);
		goto err;
	}
	if (set_verification(ctx, sc, trust, why, whylen))
		goto err;
	if (load_identity(ctx, sc, why, whylen))
		goto err;
	if (!sc->client) {
		/*
		 * wolfSSL's server session cache is one per process, shared
		 * by every service and kept across reloads, and a resumed
		 * session skips the client certificate: no resumption.
		 */
		wolfSSL_CTX_set_session_cache_mode(ctx,
		    WOLFSSL_SESS_CACHE_OFF);
		wolfSSL_CTX_NoTicketTLSv12(ctx);
		wolfSSL_CTX_no_ticket_TLSv13(ctx);
	}
	/* Tickets: Redis (OpenSSL) resumed TLS 1.2 only with them. */
	if (sc->client && sc->session_resume && on_session != NULL) {
		if (wolfSSL_CTX_UseSessionTicket(ctx) != WOLFSSL_SUCCESS) {
			snprintf(why, whylen, "%s:%d: sessionResume: the TLS "
			    "library refused session tickets", sc->file,
			    sc->line);
			goto err;
		}
		wolfSSL_CTX_sess_set_new_cb(ctx, on_session);
	}
	return (ctx);
err:
	tls_trust_free(*trust);
	*trust = NULL;
	wolfSSL_CTX_free(ctx);
	return (NULL);
}

enum tls_status
tls_status(WOLFSSL *ssl, int ret, int *err)
{
	int e;

	if (ret > 0)
		return (TLS_DONE);
	e = wolfSSL_get_error(ssl, ret);
	switch (e) {
	case WOLFSSL_ERROR_WANT_READ:
		return (TLS_WANT_READ);
	case WOLFSSL_ERROR_WANT_WRITE:
		return (TLS_WANT_WRITE);
	case WOLFSSL_ERROR_ZERO_RETURN:
		return (TLS_CLOSED);
	case SOCKET_PEER_CLOSED_E:
		return (TLS_TRUNCATED);
	default:
		*err = e;
		return (TLS_FATAL);
	}
}

/*
 * wolfSSL calls this for every certificate, the leaf last.  Its own
 * verdict on intermediates is only remembered (for the wording when no
 * policy verdict was made): redtun decides at the leaf, from the whole
 * chain of this connection, so that nothing wolfSSL cached from earlier
 * handshakes can change the outcome.
 */
/*
 * Library verdicts that redtun's policy makes again, better: path
 * building, names, dates, path length, signatures.  In both numberings
 * (Debian's build reports X509_V_ERR_* values).
 */
static int
superseded(int e)
{

	switch (e) {
	case ASN_NO_SIGNER_E: case ASN_SELF_SIGNED_E:
	case ASN_BEFORE_DATE_E: case ASN_AFTER_DATE_E:
	case ASN_PATHLEN_INV_E: case ASN_PATHLEN_SIZE_E:
	case ASN_SIG_CONFIRM_E: case ASN_SIG_OID_E: case ASN_SIG_HASH_E:
	case ASN_SIG_KEY_E: case ASN_NAME_INVALID_E:
	case DOMAIN_NAME_MISMATCH: case IPADDR_MISMATCH: case MAX_CHAIN_ERROR:
	case 7: case 13: case 14: case 18: case 20: case 25:
		return (1);
	default:
		return (0);
	}
}

static int
verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	struct tls_verify_info *vi = store->userCtx;
	const unsigned char *der[TLS_MAX_INTERMEDIATES + 4];
	size_t len[TLS_MAX_INTERMEDIATES + 4];
	int i, n, r;

	if (vi == NULL || vi->trust == NULL)
		return (0);		/* fail closed */
	/* Anything else the library refuses (critical extension, bad
	 * encoding, unknown algorithm) stays refused. */
	if (!preverify && vi->error == 0 && !superseded(store->error))
		vi->error = store->error;
	if (store->error_depth > 0)
		return (1);
	n = store->totalCerts;
	if (store->certs == NULL || n <= 0 ||
	    n > TLS_MAX_INTERMEDIATES + 4) {
		snprintf(vi->reason, sizeof(vi->reason), "the peer sent %d "
		    "certificates", n);
		vi->verdict = -1;
		return (0);
	}
	for (i = 0; i < n; i++) {
		der[i] = store->certs[i].buffer;
		len[i] = store->certs[i].length;
	}
	if ((r = tls_verify_chain(vi->trust, der, len, (size_t)n,
	    vi->purpose, vi->host, vi->reason, sizeof(vi->reason))) != 0) {
		/* The library drops what is beyond its depth: say so. */
		vi->cause = r;
		if (r == TLS_VERIFY_NO_PATH && n >= LIB_CHAIN_DEPTH)
			snprintf(vi->reason, sizeof(vi->reason), "the chain "
			    "is longer than the TLS library keeps (at most %d "
			    "certificates)", LIB_CHAIN_DEPTH);
		vi->verdict = -1;
		return (0);
	}
	if (vi->error != 0) {
		snprintf(vi->reason, sizeof(vi->reason), "%s",
		    cert_problem(vi->error) ? cert_problem(vi->error) :
		    tls_error_text(vi->error));
		vi->verdict = -1;
		return (0);
	}
	vi->verdict = 1;
	return (1);
}

void
tls_verify_attach(WOLFSSL *ssl, struct tls_verify_info *vi,
    const struct tls_trust *trust, const char *host, int purpose)
{

	memset(vi, 0, sizeof(*vi));
	vi->trust = trust;
	vi->host = host;
	vi->purpose = purpose;
	wolfSSL_SetCertCbCtx(ssl, vi);
}

const char *
tls_error_text(int err)
{
	const char *s = wolfSSL_ERR_reason_error_string((unsigned long)err);

	return (s != NULL ? s : "unknown error");
}

/* Map a certificate error (library code or X509_V_ERR number) to words. */
static const char *
cert_problem(int code)
{

	switch (code) {
	case ASN_NO_SIGNER_E:
	case 2: case 20: case 21:	/* X509_V_ERR_UNABLE_TO_GET_ISSUER... */
		return ("certificate is not signed by a trusted CA");
	case ASN_SELF_SIGNED_E:
	case 18: case 19:		/* X509_V_ERR_*SELF_SIGNED* */
		return ("certificate is self-signed and not trusted");
	case ASN_AFTER_DATE_E:
	case 10:			/* X509_V_ERR_CERT_HAS_EXPIRED */
		return ("certificate has expired");
	case ASN_BEFORE_DATE_E:
	case 9:				/* X509_V_ERR_CERT_NOT_YET_VALID */
		return ("certificate is not yet valid");
	case ASN_SIG_CONFIRM_E:
	case 7:				/* X509_V_ERR_CERT_SIGNATURE_FAILURE */
		return ("certificate signature is invalid");
	case RSA_KEY_SIZE_E:
		return ("RSA key is below the 2048-bit minimum");
	case ECC_KEY_SIZE_E:
		return ("EC key is below the 256-bit minimum");
	default:
		return (NULL);
	}
}

/* Name the alert a peer refused us with; these say what to fix. */
static const char *
alert_text(WOLFSSL *ssl)
{
	WOLFSSL_ALERT_HISTORY h;

	if (wolfSSL_get_alert_history(ssl, &h) != WOLFSSL_SUCCESS)
		return ("unknown alert");
	switch (h.last_rx.code) {
	case 40: return (wolfSSL_is_init_finished(ssl) ? "handshake failure "
	    "(the peer refused a renegotiation or post-handshake message?)" :
	    "handshake failure (no common cipher suite?)");
	case 42: return ("bad certificate");
	case 43: return ("unsupported certificate");
	case 45: return ("certificate expired");
	case 46: return ("certificate unknown");
	case 48: return ("unknown CA (our certificate is not trusted)");
	case 70: return ("protocol version (no common TLS version: redtun "
	    "requires TLS 1.2 or newer)");
	case 71: return ("insufficient security (no common cipher suite)");
	case 80: return ("internal error");
	case 112: return ("unrecognized name (check sni)");
	case 116: return ("certificate required");
	default: return ("see the peer's log");
	}
}

const char *
tls_fatal_text(WOLFSSL *ssl, int err, char *buf, size_t len)
{

	if (err == FATAL_ERROR && ssl != NULL)
		snprintf(buf, len, "the peer sent a fatal alert: %s",
		    alert_text(ssl));
	else
		snprintf(buf, len, "%s", tls_error_text(err));
	return (buf);
}

const char *
tls_describe_failure(WOLFSSL *ssl, int err, const struct tls_verify_info *vi,
    char *buf, size_t len)
{
	const char *what;
	char text[160];

	if (vi != NULL && vi->verdict < 0) {
		snprintf(buf, len, "certificate verify failed: %s", vi->reason);
		return (buf);
	}
	/* The handshake error can be generic; the callback saw the cause. */
	what = cert_problem(err);
	if (vi != NULL && vi->error != 0 && cert_problem(vi->error) != NULL)
		what = cert_problem(vi->error);
	if (what != NULL)
		snprintf(buf, len, "certificate verify failed: %s", what);
	else
		snprintf(buf, len, "TLS handshake failed: %s",
		    tls_fatal_text(ssl, err, text, sizeof(text)));
	return (buf);
}

#ifdef HAVE_ED25519
#define HAS_ED25519 "yes"
#else
#define HAS_ED25519 "no"
#endif
#ifdef HAVE_ED448
#define HAS_ED448 "yes"
#else
#define HAS_ED448 "no"
#endif

const char *
tls_version_info(char *buf, size_t len)
{

	snprintf(buf, len, "wolfSSL %s (AES-NI: %s; Ed25519: %s; Ed448: %s; "
	    "longest chain: %d certificates)", wolfSSL_lib_version(),
	    HAVE_FAST_AES ? "yes" : "no", HAS_ED25519, HAS_ED448,
	    LIB_CHAIN_DEPTH);
	return (buf);
}
