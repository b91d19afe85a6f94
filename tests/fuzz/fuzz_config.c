/*
 * fuzz_config.c - fuzz target for brokerd's config parser
 * (broker/daemon/config.c, with its ldap and tls sections).
 */
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct brk_error err = { { 0 } };
	struct config *c = NULL;

	if (config_parse((const char *)data, size, &c, &err) == 0)
		config_free(c);
	return 0;
}
