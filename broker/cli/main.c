/*
 * main.c - the broker CLI: global options, then one command.
 *
 *   broker [--socket PATH] [--as USER] [--json] COMMAND ...
 *   broker help [COMMAND] | broker --version
 *
 * The socket is --socket, else $BROKER_SOCKET, else /run/broker/broker.sock.
 * Global options may also follow the command (cli_parse() takes them).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "version.h"

const struct cli_cmd cli_commands[] = {
	{ "request", cmd_request,
	    "request RESOURCE [--role R] [--for DUR] "
	    "[--start TIME] [--reason TEXT] [--ticket ID] [--incident ID] "
	    "[--pubkey FILE [--default-cert]] [--break-glass] "
	    "[--wait [--timeout DUR]] [--new]",
	    "Ask for access to RESOURCE. Exit 0 when granted (active, or "
	    "scheduled with --start), 3 when pending approval, 4 when denied.\n"
	    "Asking again for what is already open returns that request; "
	    "--new files another." },
	{ "status", cmd_status, "status",
	    "Broker health, counts, and my active grants and pending requests." },
	{ "list", cmd_list, "list [--all] [--state S] [--user U] [--limit N]",
	    "My requests, newest first (--all: everyone's; for policy admins, "
	    "auditors and reviewers)." },
	{ "show", cmd_show, "show ID", "One request with its full timeline." },
	{ "cancel", cmd_cancel, "cancel ID [--reason TEXT]",
	    "Withdraw a pending request or a scheduled grant." },
	{ "revoke", cmd_revoke, "revoke ID --reason TEXT",
	    "End an active or scheduled grant now." },
	{ "pending", cmd_pending, "pending [--limit N] [--after ID]",
	    "Requests that I may decide, oldest first, a page of N (default "
	    "100) at a time, with who asked, why, and the approvals so far." },
	{ "approve", cmd_approve,
	    "approve ID --reason TEXT [--for DUR] "
	    "[--role R]",
	    "Approve a request; --for may shorten it, never lengthen it." },
	{ "deny", cmd_deny, "deny ID --reason TEXT",
	    "Deny a request: one eligible denial decides it." },
	{ "review", cmd_review,
	    "review list [--all] | review ack ID --note "
	    "TEXT",
	    "Post-hoc review of break-glass grants (reviewers)." },
	{ "optout", cmd_optout,
	    "optout add SCOPE --tag TAG --reason TEXT "
	    "--for DUR [--mode manual|block] [--incident ID] | optout extend "
	    "ID --for DUR --reason TEXT | optout list [--all] | optout show ID "
	    "| optout remove ID --reason TEXT | optout report [--since DUR]",
	    "Take part of the automated path out of automation, for a while.\n"
	    "SCOPE: global, resource:PATTERN, label:KEY=VALUE, user:NAME, "
	    "group:NAME, rule:ID, request:ID.\n"
	    "TAG: debugging, false-positive, incident, sensitive-change, "
	    "compliance-exception, maintenance, other (other needs a reason of "
	    "a few words).\n"
	    "--mode manual (default) sends what it covers to the policy's "
	    "optout_approvers; block denies it and refuses logins." },
	{ "freeze", cmd_freeze,
	    "freeze --reason TEXT [--for DUR] "
	    "[--revoke-active]",
	    "The kill switch: a global opt-out (policy admins); nothing is "
	    "granted automatically, grants already given keep working.\n"
	    "--revoke-active also ends the automatic grants (not those people "
	    "approved)." },
	{ "unfreeze", cmd_unfreeze, "unfreeze --reason TEXT",
	    "End the freeze: automation comes back." },
	{ "flag", cmd_flag,
	    "flag add USER --reason TEXT --for DUR "
	    "[--severity review|block] | flag list [--all] | flag remove USER "
	    "--reason TEXT",
	    "Monitoring flags: review sends the user's requests to people, "
	    "block denies them and refuses their logins." },
	{ "check", cmd_check, "check --user U --resource R",
	    "The decision a host would get now. Exit 0 allowed, 4 refused." },
	{ "whoami", cmd_whoami, "whoami",
	    "The identity and groups the broker sees for me, from where, and "
	    "over which transport (with a login: until when)." },
	{ "policy", cmd_policy,
	    "policy check FILE | policy load FILE --reason "
	    "TEXT | policy show | policy explain --user U --resource R "
	    "[--role R] [--for DUR]",
	    "Check a policy file (offline), load it (policy admins), show the "
	    "policy in force, or explain a decision (exit as check: 0 "
	    "automatic, 3 needs approval, 4 refused)." },
	{ "audit", cmd_audit,
	    "audit [--since T] [--until T] [--user U] "
	    "[--resource R] [--action A] [--request ID] [--limit N] [--json] | "
	    "audit verify [--anchor FILE] | audit export [--since SEQ] | "
	    "audit anchor [-o FILE] [--new] | audit prune --before DATE | "
	    "audit prune confirm ID | audit prune list",
	    "The audit trail: search it (newest first; T is RFC 3339 or a "
	    "duration ago like 2h), verify the hash chain and the latest "
	    "stored anchor (exit 4 when\nbroken), export it as NDJSON (resume "
	    "with --since LAST_SEQ), get a signed anchor of the chain head, or "
	    "prune anchored old\nrecords: a policy admin files a prune (exit "
	    "3; never within limits.audit_min_retention), and a different "
	    "policy admin or\nauditor, through another connection, confirms "
	    "it.  Auditors and policy admins see every record; others\nsee "
	    "the records they made or that concern them." },
	{ "cred", cmd_cred, "cred ID [--pubkey FILE]",
	    "Issue a grant's credential again: a new password for a database "
	    "login (db:NAME),\nor a certificate (host:NAME, with --pubkey).  "
	    "Retries credentials that were pending." },
	{ "psql", cmd_psql, "psql NAME [-- PSQL-ARGS]",
	    "Use or request a grant for db:NAME and run psql with its login in "
	    "the environment\n(PGHOST, PGPORT, PGDATABASE, PGUSER, "
	    "PGPASSWORD), never on its command line." },
	{ "ssh", cmd_ssh,
	    "ssh [USER@]HOST [--for DUR] [--reason TEXT] [--timeout DUR] "
	    "[--agent] [--dry-run] [-- SSH-ARGS]",
	    "Log in to HOST over ssh in one step: use my open grant for "
	    "host:HOST as USER (default: my user name) or request one (waiting "
	    "while it goes to\napproval), certify a key of the grant's own in "
	    "$BROKER_HOME/ssh (reused while its certificate is valid, deleted "
	    "after), and run\nssh -i KEY -o CertificateFile=CERT -o "
	    "IdentitiesOnly=yes USER@HOST SSH-ARGS (--dry-run: print that "
	    "command instead;\n--agent: certify the Ed25519 key in ssh-agent, "
	    "KEY is then its public half).  Exit codes as request's when no grant is had; "
	    "else ssh's own." },
	{ "cert", cmd_cert, "cert ID --pubkey FILE [-o FILE | --default-cert]",
	    "An OpenSSH certificate for an active grant, written next to the "
	    "key as KEY-ID-cert.pub (one file per grant; --default-cert also "
	    "KEY-cert.pub, ssh's own name) or to -o FILE (- for standard "
	    "output)." },
	{ "krl", cmd_krl, "krl [-o FILE]",
	    "The OpenSSH key revocation list of revoked grants, for sshd's "
	    "RevokedKeys." },
	{ "ca", cmd_ca, "ca show [--all]",
	    "The CA public key for sshd's TrustedUserCAKeys (--all: previous "
	    "keys too)." },
	{ "snapshot", cmd_snapshot, "snapshot --host H [-o FILE] [--for DUR]",
	    "A signed snapshot of the grants for host:H (H is the host's name, "
	    "web-2, not host:web-2), for offline decisions by the PAM module." },
	{ "login", cmd_login,
	    "login --url tls://HOST:PORT [--ca FILE | "
	    "--ca-fingerprint SHA256:HEX] [--user NAME] | "
	    "login revoke USER | --serial S [--reason TEXT]",
	    "Log in to a broker over the network (PAM on the broker: every "
	    "prompt is asked here, or answered line by line from standard "
	    "input when it is not a terminal); the login certificate is kept "
	    "in $BROKER_HOME (default ~/.config/broker) and every later "
	    "command uses it.\nlogin revoke ends login certificates before "
	    "they expire: all of USER's, or the one with serial S (broker "
	    "whoami --json: login_serial);\npolicy admins revoke anyone's, "
	    "a person their own.  A revoked certificate is refused from its "
	    "next call on (\"log in again\", exit 4);\nthe revocation is "
	    "stored durably and audited (login.revoked)." },
	{ "logout", cmd_logout, "logout",
	    "Revoke the saved login's certificate on the broker, then forget "
	    "it (its key and certificate; removed even when the broker\ncannot "
	    "be reached, which the exit code then says)." },
	{ "sessions", cmd_sessions,
	    "sessions [--host H] [--user U] | sessions watch [--dir DIR] "
	    "[--host H] [--interval SECONDS] [--offline-grace SECONDS] "
	    "[--once]",
	    "The login sessions open now on hosts; 'sessions watch' (root, on "
	    "a host) ends the sessions of grants that end." },
	{ "host", cmd_host,
	    "host token create HOST [--for DUR] | host enroll --url "
	    "tls://HOST:PORT --token TOKEN (--ca-fingerprint SHA256:HEX | --ca "
	    "FILE) [--dir DIR] | host sync [--dir DIR] [--watch "
	    "[--session-dir DIR] [--interval SECONDS] [--offline-grace "
	    "SECONDS] [--sync-every SECONDS]] | host list [--all] | "
	    "host remove HOST [--reason TEXT]",
	    "Hosts that enroll once and then sync: a policy admin makes a "
	    "one-time join token; the host enrolls with it\n(its key never "
	    "leaves it) and gets a certificate from the broker's host CA; "
	    "host sync writes the signed\nsnapshot, the KRL and the SSH CA "
	    "keys into DIR (default /etc/broker/host) and renews the "
	    "certificate\nin the last third of its life; with --watch it also "
	    "runs the session agent as this host (its own\ncertificate) and "
	    "syncs every minute.  host list and host "
	    "remove are for policy admins (a removed host is\nrefused at "
	    "once)." },
	{ "metrics", cmd_metrics, "metrics",
	    "The broker's metrics in the Prometheus text format." },
	{ NULL, NULL, NULL, NULL },
};

static void
usage(FILE *f)
{
	const struct cli_cmd *c;

	fprintf(f,
	    "usage: broker [--socket PATH] [--as USER] [--json] "
	    "COMMAND ...\n\ncommands:\n");
	for (c = cli_commands; c->name != NULL; c++)
		fprintf(f, "  %-9s %.*s\n", c->name,
		    (int)strcspn(c->help, "\n"), c->help);
	fprintf(f,
	    "\nDurations are written like 90s, 15m, 8h, 2d.\n"
	    "Exit codes: 0 done, 1 error, 2 usage, 3 pending approval, "
	    "4 refused, 5 broker unreachable.\n"
	    "Run 'broker help COMMAND' or 'broker COMMAND --help' for a "
	    "command's options.\n");
}

/* Edit distance between a and b (short words only), for suggestions. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[32][32];

	if (la >= 32 || lb >= 32)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			d[i][j] = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < d[i][j])
				d[i][j] = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < d[i][j])
				d[i][j] = d[i][j - 1] + 1;
		}
	return d[la][lb];
}

static int
unknown_command(const char *name)
{
	const struct cli_cmd *c, *best = NULL;
	size_t d, bestd = 3; /* suggest only what is two edits away */

	for (c = cli_commands; c->name != NULL; c++)
		if ((d = distance(name, c->name)) < bestd ||
		    (strncmp(c->name, name, strlen(name)) == 0 &&
			strlen(name) >= 2 && best == NULL)) {
			best = c;
			bestd = d < bestd ? d : bestd;
		}
	fputs("broker: unknown command \"", stderr);
	cli_print_safe(stderr, name);
	fputc('"', stderr);
	if (best != NULL)
		fprintf(stderr, "; did you mean \"%s\"?", best->name);
	fputs("\nRun 'broker help' for the list of commands.\n", stderr);
	return EX_USAGE;
}

static const struct cli_cmd *
find_command(const char *name)
{
	const struct cli_cmd *c;

	for (c = cli_commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* broker help [COMMAND] */
static int
help(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd *c;
	char *args[] = { "--help", NULL };

	if (argc == 0) {
		usage(stdout);
		return EX_DONE;
	}
	if (argc > 1 || (c = find_command(argv[0])) == NULL)
		return argc > 1 ? (usage(stderr), EX_USAGE) :
				  unknown_command(argv[0]);
	return c->fn(cli, 1, args) < 0 ? EX_DONE : EX_USAGE;
}

int
main(int argc, char **argv)
{
	struct cli cli = { .timeout_ms = 10000 };
	const struct cli_cmd *c;
	const char *env;
	int i = 1, r;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EX_DONE;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("broker %s\n", BROKER_VERSION);
			return EX_DONE;
		}
		if ((r = cli_global_opt(&cli, argc, argv, &i)) == 1)
			continue;
		if (r == 0)
			fprintf(stderr, "broker: unknown option %s\n", argv[i]);
		usage(stderr);
		return EX_USAGE;
	}
	if (i >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	cli.tty = isatty(STDOUT_FILENO);
	env = getenv("TERM");
	cli.color = cli.tty && getenv("NO_COLOR") == NULL &&
	    (env == NULL || strcmp(env, "dumb") != 0);
	if (strcmp(argv[i], "help") == 0)
		return help(&cli, argc - i - 1, argv + i + 1);
	if ((c = find_command(argv[i])) == NULL)
		return unknown_command(argv[i]);
	r = c->fn(&cli, argc - i - 1, argv + i + 1);
	client_free(cli.client);
	return r < 0 ? EX_DONE : r;
}
