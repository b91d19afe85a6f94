/*
 * main.c - the broker CLI: global options, then one command.
 *
 *   broker [--socket PATH] [--as USER] [--json] COMMAND ...
 *
 * The socket is --socket, else $BROKER_SOCKET, else /run/broker/broker.sock.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_SOCKET "/run/broker/broker.sock"

const struct cli_cmd cli_commands[] = {
	{ "request", cmd_request, "request RESOURCE [--role R] [--for DUR] "
	    "[--start TIME] [--reason TEXT] [--ticket ID] [--incident ID] "
	    "[--pubkey FILE] [--break-glass] [--wait] [--new]",
	    "Ask for access to RESOURCE. Exit 0 when granted (active, or "
	    "scheduled with --start), 3 when pending approval, 4 when denied.\n"
	    "Asking again for what is already open returns that request; "
	    "--new files another." },
	{ "status", cmd_status, "status",
	    "Broker health, counts, and my active grants and pending requests." },
	{ "list", cmd_list, "list [--all] [--state S] [--user U] [--limit N]",
	    "My requests, newest first (--all: everyone's; for policy admins, "
	    "auditors and reviewers)." },
	{ "show", cmd_show, "show ID",
	    "One request with its full timeline." },
	{ "cancel", cmd_cancel, "cancel ID [--reason TEXT]",
	    "Withdraw a pending request or a scheduled grant." },
	{ "revoke", cmd_revoke, "revoke ID --reason TEXT",
	    "End an active or scheduled grant now." },
	{ "pending", cmd_pending, "pending",
	    "Requests that I may decide, with who asked, why, and the approvals "
	    "so far." },
	{ "approve", cmd_approve, "approve ID --reason TEXT [--for DUR] "
	    "[--role R]",
	    "Approve a request; --for may shorten it, never lengthen it." },
	{ "deny", cmd_deny, "deny ID --reason TEXT",
	    "Deny a request: one eligible denial decides it." },
	{ "review", cmd_review, "review list [--all] | review ack ID --note "
	    "TEXT",
	    "Post-hoc review of break-glass grants (reviewers)." },
	{ "optout", cmd_optout, "optout add SCOPE --tag TAG --reason TEXT "
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
	{ "freeze", cmd_freeze, "freeze --reason TEXT [--for DUR] "
	    "[--revoke-active]",
	    "The kill switch: a global opt-out (policy admins); nothing is "
	    "granted automatically, grants already given keep working.\n"
	    "--revoke-active also ends the automatic grants (not those people "
	    "approved)." },
	{ "unfreeze", cmd_unfreeze, "unfreeze --reason TEXT",
	    "End the freeze: automation comes back." },
	{ "flag", cmd_flag, "flag add USER --reason TEXT --for DUR "
	    "[--severity review|block] | flag list [--all] | flag remove USER "
	    "--reason TEXT",
	    "Monitoring flags: review sends the user's requests to people, "
	    "block denies them and refuses their logins." },
	{ "check", cmd_check, "check --user U --resource R",
	    "The decision a host would get now. Exit 0 allowed, 4 refused." },
	{ "whoami", cmd_whoami, "whoami",
	    "The identity and groups the broker sees for me, and from where." },
	{ "policy", cmd_policy, "policy check FILE | policy load FILE --reason "
	    "TEXT | policy show | policy explain --user U --resource R "
	    "[--role R] [--for DUR]",
	    "Check a policy file (offline), load it (policy admins), show the "
	    "policy in force, or explain a decision (exit as check: 0 "
	    "automatic, 3 needs approval, 4 refused)." },
	{ "audit", cmd_audit, "audit [--since T] [--until T] [--user U] "
	    "[--resource R] [--action A] [--request ID] [--limit N] [--json] | "
	    "audit verify [--anchor FILE] | audit export [--since SEQ] | "
	    "audit anchor [-o FILE] [--new] | audit prune --before DATE",
	    "The audit trail: search it (newest first; T is RFC 3339 or a "
	    "duration ago like 2h), verify the hash chain (exit 4 when "
	    "broken),\nexport it as NDJSON (resume with --since LAST_SEQ), get "
	    "a signed anchor of the chain head, or prune anchored old "
	    "records.\nAuditors and policy admins see every record; others "
	    "see the records they made or that concern them." },
	{ "cert", cmd_cert, "cert ID --pubkey FILE [-o FILE]",
	    "An OpenSSH certificate for an active grant, written to FILE-cert.pub "
	    "(as ssh-keygen names it) or -o FILE (- for standard output)." },
	{ "krl", cmd_krl, "krl [-o FILE]",
	    "The OpenSSH key revocation list of revoked grants, for sshd's "
	    "RevokedKeys." },
	{ "ca", cmd_ca, "ca show [--all]",
	    "The CA public key for sshd's TrustedUserCAKeys (--all: previous "
	    "keys too)." },
	{ "snapshot", cmd_snapshot, "snapshot --host H [-o FILE] [--for DUR]",
	    "A signed snapshot of the grants for host:H (H is the host's name, "
	    "web-2, not host:web-2), for offline decisions by the PAM module." },
	{ "metrics", cmd_metrics, "metrics",
	    "The broker's metrics in the Prometheus text format." },
	{ NULL, NULL, NULL, NULL },
};

static void
usage(FILE *f)
{
	const struct cli_cmd *c;

	fprintf(f, "usage: broker [--socket PATH] [--as USER] [--json] "
	    "COMMAND ...\n\ncommands:\n");
	for (c = cli_commands; c->name != NULL; c++)
		fprintf(f, "  %-9s %.*s\n", c->name,
		    (int)strcspn(c->help, "\n"), c->help);
	fprintf(f, "\nDurations are written like 90s, 15m, 8h, 2d.\n"
	    "Exit codes: 0 done, 1 error, 2 usage, 3 pending approval, "
	    "4 refused, 5 broker unreachable.\n"
	    "Run 'broker COMMAND --help' for a command's options.\n");
}

int
main(int argc, char **argv)
{
	struct cli cli = { .timeout_ms = 10000 };
	const struct cli_cmd *c;
	const char *env;
	int i = 1, r;

	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--json") == 0)
			cli.json = true;
		else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return EX_DONE;
		} else if ((strcmp(argv[i], "--socket") == 0 ||
		    strcmp(argv[i], "--as") == 0) && i + 1 < argc) {
			if (argv[i][2] == 's')
				cli.socket = argv[i + 1];
			else
				cli.as = argv[i + 1];
			i++;
		} else {
			fprintf(stderr, "broker: unknown or incomplete option "
			    "%s\n", argv[i]);
			usage(stderr);
			return EX_USAGE;
		}
		i++;
	}
	if (i >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (cli.socket == NULL)
		cli.socket = (env = secure_getenv("BROKER_SOCKET")) != NULL &&
		    env[0] != '\0' ? env : DEFAULT_SOCKET;
	cli.tty = isatty(STDOUT_FILENO);
	cli.color = cli.tty && getenv("NO_COLOR") == NULL;
	for (c = cli_commands; c->name != NULL; c++)
		if (strcmp(c->name, argv[i]) == 0)
			break;
	if (c->name == NULL) {
		fprintf(stderr, "broker: unknown command \"%s\"\n", argv[i]);
		usage(stderr);
		return EX_USAGE;
	}
	r = c->fn(&cli, argc - i - 1, argv + i + 1);
	client_free(cli.client);
	return r < 0 ? EX_DONE : r;
}
