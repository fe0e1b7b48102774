/*
 * The TLS settings of a service: redtun's allowlist of suites (AEAD with
 * ECDHE and certificate authentication only) and the version range, with
 * stunnel's spellings accepted and anything weaker refused by name.
 */
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_priv.h"

static const struct {
	const char *wolf, *openssl;
	int tls13;
} ciphers[] = {
	{ "TLS13-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256", 1 },
	{ "TLS13-AES256-GCM-SHA384", "TLS_AES_256_GCM_SHA384", 1 },
	{ "TLS13-CHACHA20-POLY1305-SHA256", "TLS_CHACHA20_POLY1305_SHA256", 1 },
	{ "ECDHE-ECDSA-AES128-GCM-SHA256", NULL, 0 },
	{ "ECDHE-RSA-AES128-GCM-SHA256", NULL, 0 },
	{ "ECDHE-ECDSA-AES256-GCM-SHA384", NULL, 0 },
	{ "ECDHE-RSA-AES256-GCM-SHA384", NULL, 0 },
	{ "ECDHE-ECDSA-CHACHA20-POLY1305", NULL, 0 },
	{ "ECDHE-RSA-CHACHA20-POLY1305", NULL, 0 },
};

const char *
conf_cipher_allowed(const char *name, int tls13)
{
	size_t i;

	for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		if (ciphers[i].tls13 != tls13)
			continue;
		if (strcmp(name, ciphers[i].wolf) == 0 ||
		    (ciphers[i].openssl && strcmp(name, ciphers[i].openssl) == 0))
			return (ciphers[i].wolf);
	}
	return (NULL);
}

int
conf_get_cipher_list(struct conf_ctx *c, const config_setting_t *s, int tls13,
    char **out, int *line)
{
	char *text = NULL, *tok, *save, *list = NULL;
	const char *wolf;
	size_t len = 0, n;

	if (conf_get_string(c, s, &text))
		return (-1);
	if ((list = calloc(1, strlen(text) * 2 + 64)) == NULL)
		goto oom;
	for (tok = strtok_r(text, ":, ", &save); tok != NULL;
	    tok = strtok_r(NULL, ":, ", &save)) {
		if ((wolf = conf_cipher_allowed(tok, tls13)) == NULL) {
			conf_bad(c, s, "\"%s\" is not allowed: redtun offers "
			    "only %s AEAD suites with ECDHE and certificate "
			    "authentication", tok, tls13 ? "TLS 1.3" :
			    "TLS 1.2");
			goto err;
		}
		n = strlen(wolf);
		if (len + n + 2 > strlen(text) * 2 + 64)
			goto oom;
		if (len > 0)
			list[len++] = ':';
		memcpy(list + len, wolf, n + 1);
		len += n;
	}
	if (len == 0) {
		conf_bad(c, s, "empty cipher list");
		goto err;
	}
	free(text);
	free(*out);
	*out = list;
	*line = conf_line(c, s);
	return (0);
oom:
	conf_bad(c, s, "out of memory");
err:
	free(text);
	free(list);
	return (-1);
}

/*
 * stunnel's meaning: "all" is no minimum (for sslVersionMin) or no maximum
 * (for sslVersionMax); redtun's range is TLS 1.2 to TLS 1.3, so "all" is
 * TLS 1.2 as a minimum and TLS 1.3 as a maximum.  Versions stunnel knows
 * below TLS 1.2 are refused, not silently raised.
 */
int
conf_get_version(struct conf_ctx *c, const config_setting_t *s, int is_max,
    int *out)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return (conf_bad(c, s, "expected \"TLSv1.2\", \"TLSv1.3\" or "
		    "\"all\", got %s", conf_type_name(s)));
	v = config_setting_get_string(s);
	if (strcmp(v, "TLSv1.2") == 0)
		*out = TLS_V1_2;
	else if (strcmp(v, "TLSv1.3") == 0)
		*out = TLS_V1_3;
	else if (strcmp(v, "all") == 0)
		*out = is_max ? TLS_V1_3 : TLS_V1_2;
	else if (strcmp(v, "SSLv2") == 0 || strcmp(v, "SSLv3") == 0 ||
	    strcmp(v, "TLSv1") == 0 || strcmp(v, "TLSv1.1") == 0)
		return (conf_bad(c, s, "\"%s\" is below redtun's floor of "
		    "TLSv1.2", v));
	else
		return (conf_bad(c, s, "unknown version \"%s\" (use "
		    "\"TLSv1.2\", \"TLSv1.3\" or \"all\")", v));
	return (0);
}
