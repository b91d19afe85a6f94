/*
 * help.c - one line of help for every option of every command.
 *
 * A glossary rather than a field in each command's option table: most
 * options mean the same everywhere (--reason, --for, --role), and the few
 * that do not are listed again under their command.  t_cli_help runs every
 * command's --help and refuses an option that has no line here.
 */
#include "cli.h"

#include <string.h>

struct opt_help {
	const char *cmd; /* NULL: any command */
	const char *opt;
	const char *arg; /* value name; "" for a flag */
	const char *help;
};

static const struct opt_help glossary[] = {
	/* command-specific first: the first match wins */
	{ "request", "for", "DUR",
	    "how long (e.g. 2h); at most the rule's "
	    "max_ttl, the reply says when cut" },
	{ "request", "role", "R",
	    "the login account (certificate principal); "
	    "default: my user name" },
	{ "request", "start", "TIME",
	    "a later window: RFC 3339, or +DUR from "
	    "now" },
	{ "request", "reason", "TEXT",
	    "why: shown to approvers, kept in the "
	    "audit trail" },
	{ "request", "pubkey", "FILE",
	    "an OpenSSH public key to certify once "
	    "the grant is active" },
	{ "request", "wait", "",
	    "when filed for approval, wait until it is "
	    "decided (Ctrl-C stops waiting; the request stays pending)" },
	{ "request", "default-cert", "",
	    "with --pubkey: also write the "
	    "certificate as KEY-cert.pub, the name ssh uses by itself" },
	{ "cert", "default-cert", "",
	    "also write the certificate as "
	    "KEY-cert.pub, the name ssh uses by itself" },
	{ "request", "timeout", "DUR",
	    "with --wait: stop waiting after DUR "
	    "(exit 3 when still pending)" },
	{ "request", "new", "",
	    "file a new request even when one for the same "
	    "access is already open (else that one is answered)" },
	{ "ssh", "timeout", "DUR",
	    "when the request goes to approval, stop "
	    "waiting after DUR (exit 3, the request stays pending)" },
	{ "ssh", "agent", "",
	    "certify the Ed25519 key in ssh-agent (ssh-add -L) "
	    "instead of a key of the grant's own" },
	{ "ssh", "dry-run", "",
	    "print the ssh command line instead of "
	    "running it (the grant and certificate are still got)" },
	{ "ssh", "for", "DUR",
	    "how long a new grant should last (at most "
	    "the rule's max_ttl); an open grant is used as it is" },
	{ "pending", "limit", "N",
	    "a page of at most N requests (default 100, "
	    "at most 1000)" },
	{ "pending", "after", "ID",
	    "the page after request ID (oldest first)" },
	{ "approve", "for", "DUR", "shorten the grant (never lengthen it)" },
	{ "approve", "role", "R", "narrow the role to one the request allows" },
	{ "approve", "reason", "TEXT",
	    "why (required), kept in the audit "
	    "trail" },
	{ "review", "all", "", "acknowledged reviews too" },
	{ "optout", "for", "DUR",
	    "how long it lasts (at most limits.optout_max)" },
	{ "optout", "since", "DUR",
	    "report: the period to cover, back from now "
	    "(default 7d)" },
	{ "optout", "all", "", "list: ended opt-outs too" },
	{ "freeze", "for", "DUR",
	    "how long the freeze lasts (default and cap: "
	    "limits.optout_max)" },
	{ "flag", "for", "DUR", "how long the flag lasts" },
	{ "flag", "all", "", "list: ended flags too" },
	{ "snapshot", "for", "DUR", "how long the snapshot is valid" },
	{ "snapshot", "o", "FILE", "write to FILE (- for standard output)" },
	{ "policy", "for", "DUR", "explain: the duration asked for" },
	{ "policy", "role", "R", "explain: the role asked for" },
	{ "policy", "user", "U",
	    "explain: the requester (another user: "
	    "auditors and policy admins)" },
	{ "policy", "resource", "R", "explain: the resource asked for" },
	{ "policy", "reason", "TEXT",
	    "load: why (required), kept in the audit "
	    "trail" },
	{ "check", "user", "U", "the login account (default: my user name)" },
	{ "check", "resource", "R", "the resource, e.g. host:web-1" },
	{ "list", "user", "U", "only requests of user U" },
	{ "sessions", "host", "H",
	    "list: sessions on host H only; watch: this host's name "
	    "(default: the short host name)" },
	{ "sessions", "user", "U", "list: sessions of user U only" },
	{ "sessions", "dir", "DIR",
	    "watch: the session records (default /run/broker/sessions)" },
	{ "sessions", "interval", "SECONDS",
	    "watch: re-check every grant at least this often (default 25)" },
	{ "sessions", "offline-grace", "SECONDS",
	    "watch: keep sessions this long while the broker cannot be "
	    "reached (default 60), then keep those the snapshot confirms "
	    "or recorded with keep_sessions_offline" },
	{ "sessions", "timer", "",
	    "watch: ask every --interval seconds instead of holding a "
	    "watch open" },
	{ "sessions", "snapshot", "FILE",
	    "watch: the host's signed snapshot, consulted while the broker "
	    "cannot be reached" },
	{ "sessions", "ca-keys", "FILE",
	    "watch: the CA keys that verify --snapshot" },
	{ "sessions", "once", "", "watch: one round, then exit" },
	{ "list", "limit", "N", "at most N requests" },
	{ "audit", "since", "T",
	    "search: from T (RFC 3339, or a duration ago "
	    "like 2h); export: after sequence number T" },
	{ "audit", "until", "T",
	    "search: up to T (RFC 3339 or a duration ago)" },
	{ "audit", "user", "U", "search: records by or about user U" },
	{ "audit", "resource", "R", "search: records about resource R" },
	{ "audit", "action", "A",
	    "search: records of action A (e.g. "
	    "grant.revoked)" },
	{ "audit", "request", "ID", "search: records of request ID" },
	{ "audit", "limit", "N", "search: at most N records" },
	{ "audit", "json", "", "search: one JSON record per line" },
	{ "audit", "o", "FILE", "anchor: write the signed anchor to FILE" },
	{ "audit", "new", "", "anchor: sign the chain head now" },
	{ "audit", "anchor", "FILE",
	    "verify: also against this signed anchor" },
	{ "audit", "before", "DATE",
	    "prune: records older than DATE "
	    "(RFC 3339 date)" },
	/* any command */
	{ NULL, "reason", "TEXT",
	    "why (required where the command changes "
	    "state), kept in the audit trail" },
	{ NULL, "for", "DUR", "a duration like 90s, 15m, 8h, 2d, 1h30m" },
	{ NULL, "role", "R", "the login account (certificate principal)" },
	{ NULL, "all", "",
	    "everyone's, not only mine (for roles that may "
	    "see them)" },
	{ NULL, "state", "S",
	    "only requests in state S (pending, active, "
	    "denied, cancelled, expired, revoked)" },
	{ NULL, "user", "U", "a user name" },
	{ NULL, "resource", "R", "a resource, e.g. host:web-1" },
	{ NULL, "limit", "N", "at most N entries" },
	{ NULL, "ticket", "ID", "a ticket reference, kept with the request" },
	{ NULL, "incident", "ID", "an incident reference, kept with it" },
	{ NULL, "break-glass", "",
	    "emergency access where a rule allows it; "
	    "reviewed afterwards" },
	{ NULL, "pubkey", "FILE", "an OpenSSH public key to certify" },
	{ NULL, "o", "FILE",
	    "write to FILE instead of the default place "
	    "(- for standard output)" },
	{ NULL, "host", "H", "the host name (web-1, not host:web-1)" },
	{ NULL, "tag", "TAG", "why, in one word from the fixed list above" },
	{ NULL, "mode", "M", "manual (send to people) or block (refuse)" },
	{ NULL, "severity", "S", "review (send to people) or block (refuse)" },
	{ NULL, "revoke-active", "",
	    "also end the automatic grants active "
	    "now" },
	{ NULL, "note", "TEXT", "what the review found (required)" },
	{ NULL, "since", "DUR", "the period, back from now" },
	{ NULL, "json", "", "print JSON for scripts (errors too, on stderr)" },
	{ NULL, "socket", "PATH",
	    "the broker's socket (default "
	    "$BROKER_SOCKET, then /run/broker/broker.sock)" },
	{ NULL, "url", "URL",
	    "the broker over TLS, tls://HOST:PORT, with "
	    "the saved login (default $BROKER_URL, then the saved login's)" },
	{ "login", "ca", "FILE",
	    "the CA (PEM) that signed the broker's TLS "
	    "certificate" },
	{ "login", "ca-fingerprint", "FP",
	    "or: SHA256:HEX, the fingerprint "
	    "of a certificate the broker presents (openssl x509 -fingerprint "
	    "-sha256)" },
	{ "login", "serial", "S",
	    "revoke: the one login certificate with this "
	    "serial (hex; whoami --json shows mine as login_serial)" },
	{ "login", "reason", "TEXT", "revoke: why, kept in the audit trail" },
	{ "login", "user", "NAME",
	    "who logs in (default: the local user "
	    "name)" },
	{ "host", "for", "DUR",
	    "token create: how long the join token is "
	    "usable (default 1h, at most hosts.token_max)" },
	{ "host", "token", "TOKEN",
	    "enroll: the one-time join token (broker "
	    "host token create)" },
	{ "host", "ca-fingerprint", "FP",
	    "enroll: SHA256:HEX of a certificate "
	    "the broker presents (or --ca FILE)" },
	{ "host", "ca", "FILE",
	    "enroll: the CA (PEM) that signed the broker's TLS "
	    "certificate" },
	{ "host", "dir", "DIR",
	    "enroll, sync: the host's directory (default "
	    "/etc/broker/host)" },
	{ "host", "all", "", "list: removed hosts too" },
	{ "host", "reason", "TEXT", "remove: why (audited)" },
	{ "host", "watch", "",
	    "sync: keep running as root: end the sessions of grants that "
	    "end (as sessions watch, as this host over TLS) and sync every "
	    "minute" },
	{ "host", "session-dir", "DIR",
	    "sync --watch: the session records (default "
	    "/run/broker/sessions)" },
	{ "host", "interval", "SECONDS",
	    "sync --watch: re-check every grant at least this often "
	    "(default 25)" },
	{ "host", "offline-grace", "SECONDS",
	    "sync --watch: keep sessions this long while the broker cannot "
	    "be reached (default 60), then as the snapshot says" },
	{ "host", "sync-every", "SECONDS",
	    "sync --watch: sync this often (default 60, 1 to 3600)" },
	{ NULL, "as", "USER",
	    "act for USER (configured delegates and root "
	    "only)" },
	{ NULL, NULL, NULL, NULL },
};

void
cli_opt_help(
    const char *cmd, const char *opt, const char **arg, const char **help)
{
	const struct opt_help *h;

	for (h = glossary; h->opt != NULL; h++) {
		if (strcmp(h->opt, opt) != 0)
			continue;
		if (h->cmd == NULL ||
		    (cmd != NULL && strcmp(h->cmd, cmd) == 0)) {
			*arg = h->arg;
			*help = h->help;
			return;
		}
	}
	*arg = "X";
	*help = "(undocumented)";
}
