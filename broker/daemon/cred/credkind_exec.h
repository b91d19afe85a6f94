/*
 * credkind_exec.h - the config's "credentials" section: programs that
 * make and end the credentials of the resources their patterns name
 * (the "exec" credential kind, credkind_exec.c):
 *
 *   "credentials": { "exec": [
 *       { "resources": ["k8s:*"], "command": ["/usr/lib/site/k8s-token"],
 *         "timeout": 10, "max_output": 65536 } ] }
 *
 * The first entry whose pattern (fnmatch) names a resource wins; host:
 * and db: keep their own kinds, and a pattern starting with either is
 * refused.  The command is an absolute path to an executable, run
 * without a shell.
 */
#ifndef BRK_CREDKIND_EXEC_H
#define BRK_CREDKIND_EXEC_H

#include <stddef.h>

#include <jansson.h>

#include "errors.h"

struct cred_exec_entry {
	char **resources; /* fnmatch patterns */
	size_t nresources;
	char **argv;	/* NULL-terminated; argv[0] absolute */
	int timeout;	/* seconds per call; default 10 */
	int max_output; /* bytes of standard output; default 65536 */
};

struct cred_exec_config {
	struct cred_exec_entry *v;
	size_t n;
};

/* Parse the "credentials" section; *out is NULL on entry. */
int cred_exec_config_parse(
    json_t *v, struct cred_exec_config **out, struct brk_error *err);
void cred_exec_config_free(struct cred_exec_config *c);

#endif
