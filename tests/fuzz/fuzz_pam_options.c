/*
 * fuzz_pam_options.c - fuzz target for pam_broker.so's option parser
 * (pam/options.c).
 *
 * The input is the module's argument list, one argument per line (as
 * libpam would split a pam.d line, but allowing any byte but NUL and
 * newline).  When it parses, the resource template is expanded with a
 * user and a host taken from the last two arguments.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
unknown_cb(void *ctx, const char *arg)
{
	(*(size_t *)ctx) += strlen(arg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct brk_error err = { { 0 } };
	struct pb_opts o;
	const char *argv[MAX_ARGS];
	char *buf, *p, *nl, res[PB_RESOURCE_MAX];
	size_t seen = 0;
	int argc = 0;

	if (size > 65536 || (buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (p = buf; argc < MAX_ARGS; p = nl + 1) {
		argv[argc++] = p;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
	}
	memset(&o, 0, sizeof(o));
	if (pb_opts_parse(argc, argv, &o, unknown_cb, &seen, &err) == 0) {
		if (pb_template_check(o.resource, &err) != 0)
			abort();	/* parse accepted a bad template */
		(void)pb_expand_resource(o.resource, argv[argc - 1],
		    argv[argc > 1 ? argc - 2 : 0], res, sizeof(res));
		(void)pb_expand_resource(o.resource, "alice", "web-1", res,
		    sizeof(res));
	}
	(void)pb_template_check(argv[0], &err);
	(void)pb_expand_resource(argv[0], "alice", "web-1", res, 16);
	free(buf);
	return 0;
}
