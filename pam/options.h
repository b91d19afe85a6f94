/*
 * options.h - pam_broker.so's module arguments, parsed into one struct up
 * front (as pam_faillock and pam-u2f do), and the resource template.
 *
 * The parser knows nothing of PAM, so unit tests link it without libpam:
 * unknown options are reported through a callback, and a malformed value is
 * an error the module turns into a denial.  String options point into argv,
 * which libpam keeps alive for as long as the handle, so nothing here
 * allocates and there is nothing to free.
 */
#ifndef PB_OPTIONS_H
#define PB_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

#define PB_DEFAULT_SOCKET "/run/broker/broker.sock"
#define PB_DEFAULT_RESOURCE "host:%h"
#define PB_DEFAULT_TIMEOUT_MS 1000
#define PB_TIMEOUT_MIN 1
#define PB_TIMEOUT_MAX 60000
#define PB_RESOURCE_MAX 256 /* expanded resource, with its NUL */
#define PB_HOST_MAX 256	    /* url host, with its NUL */
#define PB_MAX_AGE_MAX (7 * 24 * 3600)

enum pb_failmode {
	PB_FAIL_SECURE,
	PB_FAIL_OPEN
};

struct pb_opts {
	const char *socket;	    /* unix socket; used when url is unset */
	bool use_tls;		    /* url=tls://HOST:PORT was given */
	char tls_host[PB_HOST_MAX]; /* without brackets for IPv6 */
	char tls_port[8];
	const char *ca, *cert, *key; /* TLS files (PEM) */
	const char *ca_fingerprint;  /* instead of ca=: the broker's
				      * certificate's SHA-256 (extension) */
	const char *snapshot;	     /* signed snapshot file; NULL = none */
	const char *ca_keys; /* trusted CA public key lines (extension) */
	const char *snapshot_state; /* newest issued_at accepted; NULL =
					 * "<snapshot>.state" */
	int snapshot_max_age;	    /* seconds since issued_at; 0 = no limit */
	const char *server_uid;	    /* uid or user name that may serve the
				 * socket besides root; NULL = none */
	const char *resource;	    /* template: %h, %u, %% */
	int timeout_ms;
	enum pb_failmode failmode;
	const char *exempt_group; /* NULL = none */
	bool debug;
	/* the session stack (session.c) */
	const char *session_dir;    /* records; default SESS_DEFAULT_DIR */
	int session_grace;	    /* seconds from SIGHUP to SIGKILL */
	bool keep_sessions_offline; /* keep while unconfirmable offline */
};

/* Told about each argument the parser does not know (then ignored). */
typedef void (*pb_unknown_fn)(void *ctx, const char *arg);

/*
 * Parse argc/argv into *o (defaults first; the last occurrence of an option
 * wins).  unknown (may be NULL) is called for each unknown argument.
 * Returns 0, or BRK_ERR_INVALID with err naming the bad argument: a value
 * that is empty, out of range, or not of its option's form, url= without
 * all of ca=, cert= and key=, or snapshot= without ca_keys=.  argv must
 * outlive *o.  Thread-safe.
 */
int pb_opts_parse(int argc, const char **argv, struct pb_opts *o,
    pb_unknown_fn unknown, void *ctx, struct brk_error *err);

/*
 * Check a resource template: only %h, %u and %% escapes, at most
 * PB_RESOURCE_MAX - 1 bytes, printable ASCII without blanks, quotes or
 * backslashes.  Returns 0 or BRK_ERR_INVALID.
 */
int pb_template_check(const char *tmpl, struct brk_error *err);

/*
 * Expand tmpl with %h = host, %u = user, %% = '%' into out (outlen bytes).
 * Returns 0, BRK_ERR_INVALID (bad escape), or BRK_ERR_TOOBIG.
 */
int pb_expand_resource(const char *tmpl, const char *user, const char *host,
    char *out, size_t outlen);

/*
 * This machine's short host name: gethostname() up to the first dot.
 * Returns 0, or BRK_ERR_INVALID when the name is empty or unusable.
 */
int pb_short_hostname(char *out, size_t outlen);

#endif
