/*
 * policy.h - the policy engine: parse, validate, compile, evaluate, explain.
 *
 * A library with no I/O of its own.  policy_parse() turns the version-1 JSON
 * document (broker-policy(5)) into an immutable compiled policy with an
 * index, so evaluation stays fast at 10,000 rules.  A compiled policy is
 * read-only after parse: any number of threads may evaluate it at once.
 *
 * Order of outcomes: deny beats approve beats auto; no matching rule is deny.
 */
#ifndef BRK_POLICY_H
#define BRK_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#define POLICY_MAX_MATCHES 16 /* rule ids reported per decision */

struct policy;

/* Where and why a document was refused: path like "rules[2].max_ttl". */
struct policy_error {
	char path[256];
	int line; /* 1-based line in the text, 0 when unknown */
	char msg[256];
};

enum policy_outcome {
	POLICY_DENY = 0,
	POLICY_APPROVE = 1,
	POLICY_AUTO = 2,
};

/* Administrative roles named under "roles". */
enum policy_role {
	ROLE_POLICY_ADMINS,
	ROLE_OPTOUT_MANAGERS,
	ROLE_OPTOUT_APPROVERS,
	ROLE_FLAGGERS,
	ROLE_REVIEWERS,
	ROLE_AUDITORS,
	ROLE__COUNT
};

struct policy_limits {
	int64_t pending_ttl;	       /* seconds; default 24h */
	int64_t optout_max;	       /* default 24h */
	int64_t break_glass_max_ttl;   /* default 1h */
	int64_t clock_skew;	       /* default 60s */
	int64_t schedule_max;	       /* how far ahead --start may be; 7d */
	bool rule_authors_may_approve; /* default false */
	int64_t audit_min_retention;   /* audit prune keeps this; 90d */
	int break_glass_per_day;       /* per user, any 24h; default 3 */
	int pending_per_user;	       /* pending requests; default 20 */
	int requests_per_minute;       /* new requests per user; default 60 */
};

/* The longest force-command or source-address a rule may set. */
#define POLICY_OPTION_MAX 1024

/* A caller's question. groups may be NULL when ngroups is 0. */
struct policy_query {
	const char *user;
	const char *const *groups;
	size_t ngroups;
	const char *resource;
	const char *role; /* requested principal; NULL means user */
	int64_t duration; /* requested seconds; 0 means the rule's max */
};

/*
 * The answer.  Every pointer points into the policy and lives as long as it.
 * For POLICY_APPROVE the approval fields are the combination over all
 * matching approve rules: strictest (largest) quorum, union of approver
 * groups and users, union of requirements, break_glass only if every
 * matching approve rule allows it.
 */
struct policy_decision {
	enum policy_outcome outcome;
	const char *matched[POLICY_MAX_MATCHES]; /* rule ids, in file order */
	size_t nmatched;
	const char *deciding_rule; /* see "Evaluation" below; NULL if none */
	int64_t ttl;		   /* granted seconds (after clamping) */
	bool clamped;		   /* requested more than max_ttl */
	char reason[512];	   /* plain words, one sentence */
	/* approval (outcome == POLICY_APPROVE) */
	const char *approver_groups[POLICY_MAX_MATCHES];
	size_t napprover_groups;
	const char *approver_users[POLICY_MAX_MATCHES];
	size_t napprover_users;
	int quorum;
	bool require_reason;
	bool require_ticket;
	bool break_glass;
	/* break_glass object form: also during a manual freeze / under a
	 * manual opt-out (true only if every matching approve rule says so) */
	bool break_glass_during_freeze;
	bool break_glass_during_optout;
	/*
	 * What a certificate for this grant may carry, combined over every
	 * matching auto and approve rule so that the most restrictive wins:
	 * the extensions every rule allows, the force-command any rule sets
	 * (rules forcing different commands deny), the source addresses
	 * every rule allows (no common address denies).  Set for auto and
	 * approve outcomes; empty strings mean "not set".
	 */
	unsigned cert_extensions;
	char force_command[POLICY_OPTION_MAX + 1];
	char source_address[POLICY_OPTION_MAX + 1];
};

/*
 * Parse, validate strictly and compile a version-1 policy document.
 * Unknown keys, wrong types, bad durations, bad globs, invalid names,
 * duplicate rule ids, quorum < 1 and a missing/unknown version are errors.
 * Also refused: a missing "rules" (write [] to deny everything), empty
 * lists or objects inside "when" (leave the key out instead), max_ttl on a
 * deny rule or missing on auto/approve, approvers/break_glass outside
 * approve, approvers naming nobody, require/extensions/critical_options on
 * a deny rule, limits.clock_skew over 1h, text over 64 MiB.
 * err->path looks like "rules[2].when.resources[0]" (keys that are not
 * plain words are quoted: resources["host:web-*"].labels); "" for syntax
 * errors and a top level that is not an object.  err->line is the 1-based
 * line of the offending value (of the enclosing object for a missing key).
 * Returns 0 and sets *out, or BRK_ERR_INVALID with err filled (err may be
 * NULL), or BRK_ERR_NOMEM.  *out is NULL on failure.  text need not be
 * NUL-terminated; only len bytes are read.
 */
int policy_parse(const char *text, size_t len, struct policy **out,
    struct policy_error *err);

/* Free a policy; NULL is fine. */
void policy_free(struct policy *p);

/* Number of rules. */
size_t policy_rule_count(const struct policy *p);

/* The limits, with defaults filled in. */
const struct policy_limits *policy_limits(const struct policy *p);

/*
 * Evaluation, step by step:
 *  1. A query whose user, role or resource name is invalid (names.h), whose
 *     resource contains '*' or '?', or whose duration is negative is a deny.
 *  2. The resource entry is found (see policy_evaluate below).
 *  3. A rule matches when every key of its "when" holds: users and groups
 *     any-of (groups against q->groups), resources any-of globs, labels
 *     all-of against the entry's labels (no entry: a rule with labels never
 *     matches), roles any-of against the requested role (q->role, else the
 *     user), max_duration only for requests up to it (duration 0, meaning
 *     "not stated", matches).  An auto or approve rule also needs the
 *     requested role to be one it grants: one of its "principals"; without
 *     them, one of its when.roles; without either, only the user's own
 *     name.  "root" is granted only by a rule that lists it explicitly.
 *     Deny rules match whatever the role.
 *  4. Outcome: any matching deny rule denies ("denied by rule X"), else any
 *     matching approve rule asks for approval, else any matching auto rule
 *     grants, else deny ("no rule matches user U on R").  An entry with
 *     "principals" that does not list the role denies, whatever the rules
 *     (a matching deny rule is still named first in the reason).
 *  5. deciding_rule: the first matching deny rule; for approve and auto the
 *     matching rule of that outcome with the smallest max_ttl (the first in
 *     file order among equals), i.e. the rule whose limit applies.
 *  6. TTL: the requested duration (0 means the cap) clamped to the smallest
 *     max_ttl among matching rules of the winning outcome; clamped is true
 *     only when a stated duration was reduced.  A deny has ttl 0.
 *  7. require_reason/require_ticket are also set for auto (union over the
 *     matching auto rules); quorum and approvers only for approve.  Unions
 *     beyond POLICY_MAX_MATCHES names are cut (fewer approvers, never more).
 *  8. Certificate restrictions are combined over every matching auto and
 *     approve rule (see struct policy_decision); a combination that no
 *     certificate can satisfy (two different force-commands, source
 *     addresses with nothing in common, a list over POLICY_OPTION_MAX)
 *     turns the outcome into a deny that says why.
 *
 * Decide a query.  Never fails on a valid policy: an invalid query (bad
 * resource or user name) is a deny with a reason.  The resource's labels and
 * principals come from the most specific "resources" entry that matches
 * (exact name, else the glob with the longest literal prefix, the first in
 * the file among equals).  A role not
 * in that entry's "principals" (when it has them) is a deny.
 */
void policy_evaluate(const struct policy *p, const struct policy_query *q,
    struct policy_decision *out);

/*
 * The same decision as policy_evaluate(), explained: a new JSON object with
 * "outcome", "ttl", "clamped", "reason", "matched" (rule ids), "resource"
 * {"entry","labels","principals"}, "rules": [{ "id", "matched": bool,
 * "why": "..." }] for every rule the index considered, for approve the
 * approver fields (and "break_glass_during" {"freeze","optout"}), and for
 * auto and approve "cert_options" {"extensions", "force-command",
 * "source-address"} as combined over the matching rules.  Returns NULL
 * only on allocation failure.
 */
json_t *policy_explain(const struct policy *p, const struct policy_query *q);

/* Whether user (with groups) holds an administrative role. */
bool policy_has_role(const struct policy *p, enum policy_role role,
    const char *user, const char *const *groups, size_t ngroups);

/* The role's groups and users (for showing who may act); may be empty. */
void policy_role_members(const struct policy *p, enum policy_role role,
    const char *const **groups, size_t *ngroups, const char *const **users,
    size_t *nusers);

/* A deep copy of the parsed document, for `policy show`. */
json_t *policy_document(const struct policy *p);

/*
 * Plain-text warnings about a valid policy (e.g. "roles.optout_approvers is
 * missing: manual opt-outs cannot be used").  Sets *out to an array owned by
 * the policy (NULL when there are none) and returns its length.
 */
size_t policy_warnings(const struct policy *p, const char *const **out);

/* Certificate extensions a rule may grant ("extensions"; default all). */
#define POLICY_EXT_PTY 0x01u		  /* permit-pty */
#define POLICY_EXT_PORT_FORWARDING 0x02u  /* permit-port-forwarding */
#define POLICY_EXT_AGENT_FORWARDING 0x04u /* permit-agent-forwarding */
#define POLICY_EXT_X11_FORWARDING 0x08u	  /* permit-X11-forwarding */
#define POLICY_EXT_USER_RC 0x10u	  /* permit-user-rc */
#define POLICY_EXT_ALL 0x1fu

/* What a rule puts in a certificate, from "extensions"/"critical_options". */
struct policy_rule_cert {
	unsigned extensions;	    /* POLICY_EXT_* bits */
	const char *force_command;  /* NULL when not set */
	const char *source_address; /* CIDR list; NULL when unset */
};

/*
 * The certificate options of the rule with this id (for a decision, use
 * deciding_rule).  Returns NULL when there is no such rule or it is a deny
 * rule.  The result lives as long as the policy.
 */
const struct policy_rule_cert *
policy_rule_cert_options(const struct policy *p, const char *rule_id);

/* The OpenSSH name of one POLICY_EXT_* bit ("permit-pty"), NULL if unknown. */
const char *policy_cert_extension_name(unsigned bit);

/*
 * Whether user (with groups) may add an opt-out of this scope: it must hold
 * optout_managers through an entry without "scopes", or through one whose
 * scope patterns cover it ("global" covers everything; otherwise a glob over
 * the whole scope string, e.g. "resource:host:db-*" covers
 * "resource:host:db-prod-1" and "resource:host:db-*" but not "resource:*").
 */
bool policy_optout_scope_allowed(const struct policy *p, const char *user,
    const char *const *groups, size_t ngroups, const char *scope);

/*
 * The optout_managers entries ("optout_managers" may be one object or an
 * array of them), for display: the number of entries, and with
 * policy_optout_manager_entry() the groups, users and scopes of entry i
 * (scopes empty means any scope).  Returns BRK_ERR_NOTFOUND past the end.
 */
size_t policy_optout_manager_count(const struct policy *p);
int policy_optout_manager_entry(const struct policy *p, size_t i,
    const char *const **groups, size_t *ngroups, const char *const **users,
    size_t *nusers, const char *const **scopes, size_t *nscopes);

/*
 * Whether resource's entry (the most specific "resources" entry matching
 * it, as in evaluation) carries the label key=value.
 */
bool policy_resource_label(const struct policy *p, const char *resource,
    const char *key, const char *value);

/* Approvals a manual opt-out needs (optout_approvers.quorum, default 1). */
int policy_optout_quorum(const struct policy *p);

#endif
