/*
 * A tunnel's counters (stats.h), on its own loop only: the phase changes
 * tunnel.c reports drive most of them (clients, pools, reuse, failures),
 * the failure sites name their reason with tunnel_fail(), and the
 * classification of a reason lives here, in one place.
 */
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "service.h"
#include "conf.h"
#include "stats.h"
#include "tls_verify.h"
#include "tunnel.h"
#include "tunnel_priv.h"

void
tunnel_stats_init(struct tunnel *t)
{

	t->st = stats_cell(svc_stats(t->svc),
	    (size_t)tunnels_worker(t->set));
}

void
tunnel_stats_client(struct tunnel *t, int attached)
{

	/* Over-limit clients are the listener's to count (limit). */
	if (attached && !t->st_client && !t->quiet) {
		t->st_client = 1;
		STATS_INC(t->st, conn_total);
		STATS_INC(t->st, conn_active);
	} else if (!attached && t->st_client) {
		t->st_client = 0;
		STATS_DEC(t->st, conn_active);
	}
}

void
tunnel_fail(struct tunnel *t, int reason)
{

	t->fail = reason + 1;
}

int
tunnel_fail_uv(int status)
{

	switch (status) {
	case UV_ECONNREFUSED:
	case UV_ECONNRESET:
	case UV_EHOSTUNREACH:
	case UV_ENETUNREACH:
		return (ST_FAIL_REFUSED);
	case UV_ETIMEDOUT:
		return (ST_FAIL_TIMEOUT);
	default:
		return (ST_FAIL_OTHER);
	}
}

/* A library certificate error (either numbering, as tls.c sees them). */
static int
cert_reason(int code)
{

	switch (code) {
	case ASN_AFTER_DATE_E: case ASN_BEFORE_DATE_E:
	case 9: case 10:	/* X509_V_ERR_CERT_NOT_YET_VALID, _HAS_EXPIRED */
		return (ST_FAIL_EXPIRED);
	case ASN_NO_SIGNER_E: case ASN_SELF_SIGNED_E: case ASN_SIG_CONFIRM_E:
	case 2: case 7: case 18: case 19: case 20: case 21:
		return (ST_FAIL_VERIFY_CHAIN);
	default:
		return (-1);
	}
}

int
tunnel_fail_tls(const struct tunnel *t, WOLFSSL *ssl, int err)
{
	WOLFSSL_ALERT_HISTORY h;
	int r;

	/* redtun's own verdict first: it names the cause exactly. */
	if (t->vi.verdict < 0) {
		switch (t->vi.cause) {
		case TLS_VERIFY_IDENTITY:
			return (ST_FAIL_HOSTNAME);
		case TLS_VERIFY_DATES:
			return (ST_FAIL_EXPIRED);
		default:
			if (t->vi.error != 0 &&
			    (r = cert_reason(t->vi.error)) >= 0)
				return (r);
			return (ST_FAIL_VERIFY_CHAIN);
		}
	}
	if ((r = cert_reason(err)) >= 0 ||
	    (t->vi.error != 0 && (r = cert_reason(t->vi.error)) >= 0))
		return (r);
	if (err == VERSION_ERROR)
		return (ST_FAIL_PROTOCOL_VERSION);
	if (err == FATAL_ERROR) {
		/* 70: protocol_version, as the peer saw it. */
		if (ssl != NULL && wolfSSL_get_alert_history(ssl, &h) ==
		    WOLFSSL_SUCCESS && h.last_rx.code == 70)
			return (ST_FAIL_PROTOCOL_VERSION);
		return (ST_FAIL_ALERT);
	}
	return (ST_FAIL_OTHER);
}

void
tunnel_stats_handshake(struct tunnel *t, WOLFSSL *ssl)
{
	const char *v = wolfSSL_get_version(ssl);
	int ver = (v != NULL && strcmp(v, "TLSv1.3") == 0) ? ST_TLS13 :
	    ST_TLS12;

	STATS_INC(t->st, handshakes[ver][wolfSSL_session_reused(ssl) ? 1 : 0]);
}

void
tunnel_stats_connected(struct tunnel *t)
{

	stats_note_connect(t->st, (uv_hrtime() - t->connect_ns) / 1000);
	t->fail = 0;	/* earlier addresses' failures are not this one's */
}

/*
 * An attempt that ended before RELAY: counted once, with the reason its
 * failure site gave, or "other" if it had got as far as connecting or a
 * handshake.  A client gone before anything was tried is no failure.
 */
static void
count_failure(struct tunnel *t, int from)
{
	int tried = from == T_CONNECT || from == T_HANDSHAKE ||
	    from == T_PREPARE;

	if (t->quiet || (from != T_NEW && from != T_SNIFF && !tried) ||
	    (!tried && t->fail == 0))
		return;
	if (from == T_HANDSHAKE)
		STATS_INC(t->st, handshakes_failed);
	STATS_INC(t->st, fail[t->fail != 0 ? t->fail - 1 : ST_FAIL_OTHER]);
	t->fail = 0;
}

void
tunnel_stats_phase(struct tunnel *t, int from, int to)
{
	int k;

	if (from == to)
		return;
	if (t->st_pool != 0) {
		STATS_DEC(t->st, pool[t->st_pool - 1]);
		t->st_pool = 0;
	}
	switch (to) {
	case T_POOLED:
		k = t->reused ? ST_POOL_REUSE : ST_POOL_PREWARM;
		STATS_INC(t->st, pool[k]);
		t->st_pool = k + 1;
		if (from == T_RECYCLE)
			STATS_INC(t->st, reuse[ST_REUSE_KEPT]);
		break;
	case T_RELAY:
		if (from == T_POOLED && t->reused)
			STATS_INC(t->st, reuse[ST_REUSE_REUSED]);
		t->fail = 0;
		t->st_reuse = 0;	/* a new client: a new verdict */
		break;
	case T_REFUSE:
		count_failure(t, from);
		break;
	case T_DEAD:
		/* RECYCLE failed, or the client's connection ended without
		 * the clean EOF that is judged (reset, error, timeout). */
		if (from == T_RECYCLE || ((from == T_RELAY ||
		    from == T_DRAIN) && t->sc->reuse && !t->st_reuse))
			STATS_INC(t->st, reuse[ST_REUSE_DISCARDED]);
		count_failure(t, from);
		tunnel_stats_client(t, 0);
		break;
	default:
		break;
	}
}
