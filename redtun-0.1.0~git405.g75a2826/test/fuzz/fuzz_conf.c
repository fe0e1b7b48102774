/* libFuzzer harness: the configuration reader, fed from memory. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512];
	struct conf *cf;
	struct addr_spec a;
	char text[128];
	FILE *f;

	if (size == 0)
		return (0);
	if ((f = fmemopen((void *)(uintptr_t)data, size, "r")) == NULL)
		return (0);
	cf = conf_read(f, "fuzz.conf", CONF_FORMAT_AUTO | CONF_NO_INCLUDE, why,
	    sizeof(why));
	fclose(f);
	conf_free(cf);

	/* The address parser sees every "accept"/"connect" string. */
	if (size < sizeof(text)) {
		snprintf(text, sizeof(text), "%.*s", (int)size,
		    (const char *)data);
		if (addr_parse(text, "127.0.0.1", &a, why, sizeof(why)) == 0)
			addr_spec_free(&a);
	}
	return (0);
}
