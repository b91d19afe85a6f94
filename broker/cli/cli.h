/*
 * cli.h - what the broker CLI's commands share: the connection, option
 * parsing, exit codes and safe printing.
 *
 * Exit codes (broker(1), EXIT STATUS): 0 done, 1 other error, 2 usage error, 3 filed and
 * pending approval, 4 refused, 5 broker unreachable.
 */
#ifndef BRK_CLI_H
#define BRK_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "client.h"

enum {
	EX_DONE = 0,
	EX_ERROR = 1,
	EX_USAGE = 2,
	EX_PENDING = 3,
	EX_REFUSED = 4,
	EX_UNREACHABLE = 5
};

struct cli {
	const char *socket;	 /* --socket or $BROKER_SOCKET; NULL: none */
	const char *url;	 /* --url */
	char via[512];		 /* the transport used, for whoami */
	long long login_expires; /* TLS: the login's end */
	char login_serial[80];	 /* TLS: its certificate's serial */
	const char *as;
	bool json;
	bool tty;   /* stdout is a terminal */
	bool color; /* tty and NO_COLOR unset */
	int timeout_ms;
	struct client *client;
};

struct cli_cmd {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
	const char *usage; /* "request RESOURCE [--role R] ..." */
	const char *help;  /* one line */
};

/* An option for cli_parse: --name VALUE (str) or --name (flag). */
struct cli_opt {
	const char *name;
	const char **str; /* NULL for a flag */
	bool *flag;
};

/*
 * Parse argv (after the command word) into opts and exactly npos
 * positional arguments, as getopt_long would: options anywhere, --name
 * VALUE or --name=VALUE, "--" ends the options; the global options
 * (--json, --socket, --as) are taken wherever they stand, into cli.
 * Prints a usage error and returns EX_USAGE on any problem, or -1 when
 * --help was asked (the command's help, every option on a line, printed).
 */
int cli_parse(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv,
    const struct cli_opt *opts, const char **pos, int npos);

/* A global option at argv[*i] (advancing *i past its value): 1 when it was
 * one, 0 when not, EX_USAGE (printed) when its value is missing. */
int cli_global_opt(struct cli *cli, int argc, char **argv, int *i);

/* A command's help: usage, what it does, and one line per option. */
void
cli_print_help(FILE *f, const struct cli_cmd *cmd, const struct cli_opt *opts);

/* The value name ("DUR", "" for a flag) and one-line help of option opt
 * of command cmd (NULL: a global option); from help.c's glossary.  Never
 * NULL: an option nobody described gets "(undocumented)", which
 * t_cli_help refuses. */
void cli_opt_help(
    const char *cmd, const char *opt, const char **arg, const char **help);

/* Call op; on failure prints the error and returns the exit code.  On
 * success returns EX_DONE with *result set (owned by the caller). */
int cli_call(struct cli *cli, const char *op, json_t *args, json_t **result);

/* Report an error ("broker: ..." or JSON under --json); returns code. */
int cli_fail(struct cli *cli, int code, const char *errcode, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* The exit code for a BRK_ERR_* returned by the broker. */
int cli_exit_code(int rc);

/* Parse a whole-number option from min to max ("what" says the unit, e.g.
 * "seconds" or "a number"); EX_DONE, or EX_USAGE (printed) when bad. */
int cli_number(struct cli *cli, const char *opt, const char *what,
    const char *s, long min, long max, long *out);

/* Parse a duration option into seconds; EX_USAGE (printed) when bad. */
int cli_duration(struct cli *cli, const char *opt, const char *s, int64_t *out);

/* Print JSON (pretty) to stdout. */
void cli_print_json(json_t *v);

/* Print s with control characters and non-printables escaped. */
void cli_print_safe(FILE *f, const char *s);
/* A JSON member as a safe string ("-" when null or missing). */
const char *cli_str(json_t *obj, const char *key);

/* Bold/green/red/yellow when colour is on; "" otherwise. */
const char *cli_color(struct cli *cli, const char *which);

/* Commands. */
int cmd_request(struct cli *cli, int argc, char **argv);
int cmd_cancel(struct cli *cli, int argc, char **argv);
int cmd_revoke(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_list(struct cli *cli, int argc, char **argv);
int cmd_show(struct cli *cli, int argc, char **argv);
int cmd_check(struct cli *cli, int argc, char **argv);
int cmd_whoami(struct cli *cli, int argc, char **argv);
int cmd_policy(struct cli *cli, int argc, char **argv);
int cmd_audit(struct cli *cli, int argc, char **argv);
int cmd_cert(struct cli *cli, int argc, char **argv);
int cmd_cred(struct cli *cli, int argc, char **argv);
int cmd_psql(struct cli *cli, int argc, char **argv);
/* Print a reply's database login ("db") as a DSN and PG* variables, or
 * that credentials are pending (not under --json). */
void cli_print_db(struct cli *cli, json_t *res);
int cmd_pending(struct cli *cli, int argc, char **argv);
int cmd_approve(struct cli *cli, int argc, char **argv);
int cmd_deny(struct cli *cli, int argc, char **argv);
int cmd_review(struct cli *cli, int argc, char **argv);
int cmd_optout(struct cli *cli, int argc, char **argv);
int cmd_freeze(struct cli *cli, int argc, char **argv);
int cmd_unfreeze(struct cli *cli, int argc, char **argv);
int cmd_flag(struct cli *cli, int argc, char **argv);
void cli_print_optout(struct cli *cli, json_t *o);
int cmd_krl(struct cli *cli, int argc, char **argv);
int cmd_ca(struct cli *cli, int argc, char **argv);
int cmd_snapshot(struct cli *cli, int argc, char **argv);
int cmd_metrics(struct cli *cli, int argc, char **argv);
int cmd_login(struct cli *cli, int argc, char **argv); /* cmd_login.c */
int cmd_logout(struct cli *cli, int argc, char **argv);
int cmd_ssh(struct cli *cli, int argc, char **argv);	  /* cmd_ssh.c */
int cmd_sessions(struct cli *cli, int argc, char **argv); /* cmd_sessions.c */

/*
 * The session agent (cmd_sessions.c), callable from other commands ("host
 * sync --watch"): ends the sessions recorded in dir whose grants the
 * broker says ended; runs until killed, or one round with once.  connect
 * sets cli->client (the command's transport).  Returns an exit code.
 */
struct sess_watch_opts {
	const char *dir;   /* session records (SESS_DEFAULT_DIR) */
	const char *host;  /* this host's name, for a local broker */
	int interval;	   /* seconds a watch waits: the timer fallback */
	int offline_grace; /* seconds sessions outlive a lost broker */
	bool once;
	bool timer;	      /* ask every interval instead of a held watch */
	const char *snapshot; /* the host's signed snapshot, or NULL */
	const char *ca_keys;  /* the CA keys that verify it */
	/* sets cli->client: the command's transport (arg: the caller's) */
	int (*connect)(struct cli *cli, void *arg, struct brk_error *err);
	/* or NULL: called before each round (with cli->client possibly
	 * open: it must leave it as it was); returns the seconds until it
	 * wants to run again, which caps the round's wait */
	int (*tick)(struct cli *cli, void *arg);
	void *arg;
};
int cli_sessions_watch(struct cli *cli, const struct sess_watch_opts *o);
/* --interval and --offline-grace of a watch into o; EX_DONE or the exit
 * code, printed. */
int cli_sessions_timing(struct cli *cli, const char *interval,
    const char *grace, struct sess_watch_opts *o);

/* Connect as the transport rules say (cmd_login.c); EX_DONE or the exit
 * code, printed. */
int cli_connect(struct cli *cli);
/* $BROKER_HOME/sub (made, 0700, with $BROKER_HOME) into buf; EX_DONE or
 * the exit code, printed. */
int cli_home_subdir(struct cli *cli, const char *sub, char *buf, size_t len);
/* A new Ed25519 key and a CSR for it, PEM texts (malloc'd; wipe the key);
 * 0 or -1 (cmd_login.c). */
int cli_make_key(char **key_pem, char **csr_pem);
/* A new key and CSR (as cli_make_key), then a TLS connection to url
 * (tls://HOST:PORT) that trusts the broker by CA file ca or by pin fp, as
 * cli->client; EX_DONE, or the exit code, printed (*key_pem and *csr_pem
 * may be set either way: the caller wipes and frees them). */
int cli_key_and_connect(struct cli *cli, const char *url, const char *ca,
    const char *fp, char **key_pem, char **csr_pem);
/* Parse tls://HOST:PORT (cmd_login.c); 0 or -1. */
int cli_parse_url(
    const char *url, char *host, size_t hlen, char *port, size_t plen);

/* broker host ... (cmd_host.c). */
int cmd_host(struct cli *cli, int argc, char **argv);
/*
 * One "broker host sync" of the host enrolled in dir: renew the host
 * certificate when less than a third of its life is left, then fetch and
 * write the snapshot, the KRL and the CA keys (each atomically).  For the
 * watch mode too: opens and closes its own connection (cli->client is
 * left NULL).  EX_DONE with *summary (JSON, the caller's) set, or the
 * exit code, printed.
 */
int cli_host_sync(struct cli *cli, const char *dir, json_t **summary);
/* Add the saved login's url and expiry to out; 1 when there is one. */
int cli_login_describe(json_t *out);

/* Read a public key file for --pubkey; prints the error. */
int cli_read_pubkey(struct cli *cli, const char *path, char **text);
/* Write a reply's "cert" to out, or next to pubkey as KEY-ID-cert.pub
 * (and, with dflt, KEY-cert.pub too); the paths go into res. */
int cli_save_cert(struct cli *cli, json_t *res, const char *pubkey,
    const char *out, bool dflt);
/* "certificate written to ..." for the paths cli_save_cert put in res. */
void cli_print_cert_files(json_t *res);
/* Write data to path atomically ("-" is standard output). */
int cli_write_file(struct cli *cli, const char *path, const void *data,
    size_t len, mode_t mode);

/* Print one request (the reply of request/cancel/revoke/show). */
void cli_print_request(struct cli *cli, json_t *r);
/* Call op with args (released here) and print the request it answers
 * with (JSON under --json); the call's exit code. */
int cli_call_request(struct cli *cli, const char *op, json_t *args);
/* A pending request's approvals: how many more, from whom, who said yes
 * (the same lines in request, show, pending and approve). */
void cli_print_approvals(json_t *r);

/* A pending request: wait until it is decided, at most timeout seconds
 * (0: no limit), with progress (cmd_request.c, request --wait); *res is
 * replaced by the request's latest state.  0 when decided, EX_PENDING
 * when the wait ended first (printed), or a call's error. */
int cli_wait_decision(struct cli *cli, json_t **res, int64_t timeout);

/* The exit code a request's state stands for. */
int cli_state_exit(json_t *r);

extern const struct cli_cmd cli_commands[];

/* The command named name (it must exist). */
const struct cli_cmd *cli_cmd(const char *name);

#endif
