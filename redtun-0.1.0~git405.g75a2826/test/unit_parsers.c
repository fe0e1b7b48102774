/* Unit tests for the pure parsers: addresses, log levels, cipher names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "log.h"

#include "unit_check.h"

#define CHECK_STR(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {		\
		fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__,	\
		    __LINE__, a_ ? a_ : "(null)", b_ ? b_ : "(null)");	\
		failures++;						\
	}								\
} while (0)

static void
test_addr_ok(const char *text, const char *bare, const char *host, int port,
    int is_ip)
{
	struct addr_spec a;
	char why[128];

	if (addr_parse(text, bare, &a, why, sizeof(why)) != 0) {
		fprintf(stderr, "addr_parse(\"%s\") failed: %s\n", text, why);
		failures++;
		return;
	}
	CHECK_STR(a.host, host);
	CHECK(a.port == port);
	CHECK(a.is_ip == is_ip);
	addr_spec_free(&a);
}

static void
test_addr_bad(const char *text, const char *bare, const char *needle)
{
	struct addr_spec a;
	char why[128];

	if (addr_parse(text, bare, &a, why, sizeof(why)) == 0) {
		fprintf(stderr, "addr_parse(\"%s\") accepted bad input\n", text);
		addr_spec_free(&a);
		failures++;
		return;
	}
	if (strstr(why, needle) == NULL) {
		fprintf(stderr, "addr_parse(\"%s\"): \"%s\" lacks \"%s\"\n",
		    text, why, needle);
		failures++;
	}
}

int
main(void)
{
	int level = -1;

	test_addr_ok("127.0.0.1:6379", NULL, "127.0.0.1", 6379, 1);
	test_addr_ok("primary.example.use1.cache.amazonaws.com:6379", NULL,
	    "primary.example.use1.cache.amazonaws.com", 6379, 0);
	test_addr_ok("[::1]:6380", NULL, "::1", 6380, 1);
	test_addr_ok("6379", "127.0.0.1", "127.0.0.1", 6379, 1);
	test_addr_ok("localhost:1", NULL, "localhost", 1, 0);
	test_addr_ok("h:65535", NULL, "h", 65535, 0);
	test_addr_bad("6379", NULL, "expected \"host:port\"");
	test_addr_bad("nocolon", "127.0.0.1", "expected \"host:port\"");
	test_addr_bad("host:", NULL, "bad port");
	test_addr_bad("host:0", NULL, "bad port");
	test_addr_bad("host:65536", NULL, "bad port");
	test_addr_bad("host:12ab", NULL, "bad port");
	test_addr_bad(":6379", NULL, "missing host");
	test_addr_bad("::1:6379", NULL, "IPv6 addresses must be written");
	test_addr_bad("[::1:6379", NULL, "expected \"[IPv6]:port\"");
	test_addr_bad("[name]:6379", NULL, "not an IPv6 address");

	CHECK(addr_is_loopback("127.0.0.1"));
	CHECK(addr_is_loopback("127.1.2.3"));
	CHECK(addr_is_loopback("::1"));
	CHECK(addr_is_loopback("localhost"));
	CHECK(!addr_is_loopback("0.0.0.0"));
	CHECK(!addr_is_loopback("10.0.0.1"));
	CHECK(!addr_is_loopback("::"));

	CHECK(log_level_parse("7", &level) == 0 && level == 7);
	CHECK(log_level_parse("0", &level) == 0 && level == 0);
	CHECK(log_level_parse("debug", &level) == 0 && level == 7);
	CHECK(log_level_parse("warning", &level) == 0 && level == 4);
	CHECK(log_level_parse("notice", &level) == 0 && level == 5);
	CHECK(log_level_parse("8", &level) != 0);
	CHECK(log_level_parse("-1", &level) != 0);
	CHECK(log_level_parse("loud", &level) != 0);
	CHECK(log_level_parse("", &level) != 0);

	CHECK_STR(conf_cipher_allowed("TLS_AES_128_GCM_SHA256", 1),
	    "TLS13-AES128-GCM-SHA256");
	CHECK_STR(conf_cipher_allowed("TLS13-CHACHA20-POLY1305-SHA256", 1),
	    "TLS13-CHACHA20-POLY1305-SHA256");
	CHECK_STR(conf_cipher_allowed("ECDHE-RSA-AES256-GCM-SHA384", 0),
	    "ECDHE-RSA-AES256-GCM-SHA384");
	CHECK(conf_cipher_allowed("ECDHE-RSA-AES256-GCM-SHA384", 1) == NULL);
	CHECK(conf_cipher_allowed("TLS_AES_128_GCM_SHA256", 0) == NULL);
	CHECK(conf_cipher_allowed("ADH-AES128-SHA", 0) == NULL);
	CHECK(conf_cipher_allowed("TLS13-SHA256-SHA256", 1) == NULL);
	CHECK(conf_cipher_allowed("DES-CBC3-SHA", 0) == NULL);
	CHECK(conf_cipher_allowed("RC4-SHA", 0) == NULL);
	CHECK(conf_cipher_allowed("ECDHE-RSA-AES128-SHA", 0) == NULL);

	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return (1);
	}
	printf("all parser checks passed\n");
	return (0);
}
