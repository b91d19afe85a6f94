/*
 * policy_int.h - the policy engine's insides, shared by its files only.
 *
 * A compiled policy keeps the jansson document it was parsed from and every
 * string in it points into that document, so nothing is copied and the
 * policy is freed in three steps: the arena (every typed array), the
 * document, the struct.  Nothing here is modified after policy_parse().
 */
#ifndef BRK_POLICY_INT_H
#define BRK_POLICY_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define POL_PATH_MAX 12 /* deepest path the parser reports */
#define POL_TEXT_MAX (64u * 1024 * 1024)

/* A list of names (users, groups, globs...) pointing into the document. */
struct pol_names {
	const char **v;
	size_t n;
};

struct pol_label {
	const char *key;
	const char *value;
};

struct pol_labels {
	struct pol_label *v;
	size_t n;
};

/* One "resources" entry. */
struct pol_resource {
	const char *name; /* exact name or glob */
	bool is_glob;
	struct pol_labels labels;
	struct pol_names principals;
	bool has_principals;
};

struct pol_rule {
	const char *id;
	const char *description;
	struct pol_names users, groups, resources, roles;
	struct pol_names principals; /* roles the rule grants; n 0: unset */
	struct pol_labels labels;
	int64_t max_duration; /* 0: no limit */
	enum policy_outcome grant;
	int64_t max_ttl; /* 0 for deny */
	struct pol_names appr_groups, appr_users;
	int quorum;
	bool require_reason, require_ticket, break_glass;
	bool bg_during_freeze, bg_during_optout; /* break_glass {...} */
	struct policy_rule_cert cert;
};

struct pol_role_entry {
	struct pol_names groups, users, scopes;
};

struct pol_role {
	bool present;
	struct pol_names groups, users; /* union over entries */
	struct pol_role_entry *entries;
	size_t nentries;
	int quorum; /* optout_approvers only */
};

/* Sorted (key, item) pairs: exact lookups by binary search. */
struct pol_kv {
	const char *key;
	uint32_t item;
};

struct pol_keyidx {
	struct pol_kv *v;
	size_t n;
};

/*
 * Distinct literal prefixes of globs, sorted, each with its nearest
 * ancestor (the longest other prefix that is a prefix of it) and its items.
 */
struct pol_pfx {
	const char *s;
	size_t len;
	int32_t parent;
	uint32_t start, n; /* slice of items */
};

struct pol_pfxidx {
	struct pol_pfx *v;
	size_t n;
	uint32_t *items;
};

struct pol_index {
	struct pol_keyidx res_exact; /* rules by exact resource name */
	struct pol_pfxidx res_glob;  /* rules by resource glob prefix */
	struct pol_pfxidx res_sfx;   /* ... by reversed literal suffix */
	struct pol_keyidx labels;    /* rules without resources, "k=v" */
	struct pol_keyidx users;     /* rules with neither, by user */
	struct pol_keyidx groups;    /* ... by group */
	uint32_t *always;	     /* rules that constrain none of those */
	size_t nalways;
	struct pol_keyidx ent_exact; /* resource entries by exact name */
	struct pol_pfxidx ent_glob;  /* resource entries by glob prefix */
	uint32_t *byid;		     /* rule numbers sorted by id */
};

struct pol_chunk;

struct policy {
	json_t *doc;
	struct pol_chunk *arena;
	struct pol_rule *rules;
	size_t nrules;
	struct pol_resource *res;
	size_t nres;
	struct pol_role roles[ROLE__COUNT];
	struct policy_limits limits;
	const char **warnings;
	size_t nwarnings;
	struct pol_index idx;
};

/* arena.c: allocations that live exactly as long as the policy. */
void *pol_alloc(struct policy *p, size_t n);
void *pol_allocarray(struct policy *p, size_t n, size_t size);
char *pol_printf(struct policy *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pol_arena_free(struct policy *p);

/* jsonpos.c: the line of the value at a path in JSON text. */
struct pol_step {
	const char *key; /* NULL: an array index */
	size_t index;
};
int jsonpos_line(
    const char *text, size_t len, const struct pol_step *steps, size_t nsteps);

/* pctx.c: the parser's context, error reporting and typed getters. */
struct pol_pctx {
	const char *text;
	size_t len;
	struct policy *p;
	struct policy_error *err;
	struct pol_step path[POL_PATH_MAX];
	size_t depth;
	size_t overflow; /* pushes beyond POL_PATH_MAX */
};

enum pol_kind {
	POL_USER, /* user names and principals */
	POL_GROUP,
	POL_PATTERN, /* resource globs */
	POL_SCOPE,   /* opt-out scope patterns */
};

void pol_push_key(struct pol_pctx *c, const char *key);
void pol_push_idx(struct pol_pctx *c, size_t i);
void pol_pop(struct pol_pctx *c);
int pol_fail(struct pol_pctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int pol_fail_key(struct pol_pctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#if defined(__clang_analyzer__) && !defined(POL_PCTX_IMPL)
/* For clang-tidy's analyser (one file at a time): both always fail. */
#define pol_fail(c, ...) (pol_fail((c), __VA_ARGS__), BRK_ERR_INVALID)
#define pol_fail_key(c, key, ...) \
	(pol_fail_key((c), (key), __VA_ARGS__), BRK_ERR_INVALID)
#endif
void
pol_path_format(const struct pol_step *steps, size_t n, char *buf, size_t len);
int pol_nomem(struct pol_pctx *c);
int pol_check_keys(struct pol_pctx *c, json_t *obj, const char *const *allowed);
int pol_get_string(
    struct pol_pctx *c, json_t *obj, const char *key, const char **out);
int pol_get_bool(struct pol_pctx *c, json_t *obj, const char *key, bool *out);
int pol_get_duration(
    struct pol_pctx *c, json_t *obj, const char *key, int64_t *out);
int pol_get_names(struct pol_pctx *c, json_t *obj, const char *key,
    enum pol_kind kind, bool nonempty, struct pol_names *out);
int pol_get_labels(struct pol_pctx *c, json_t *obj, const char *key,
    bool nonempty, struct pol_labels *out);
int pol_get_quorum(struct pol_pctx *c, json_t *obj, int *out);
bool pol_pattern_valid(const char *s);
bool pol_scope_valid(const char *s);

/* parse.c, rules.c, roles.c: the document, section by section. */
int pol_parse_document(struct pol_pctx *c, json_t *doc);
int pol_parse_rules(struct pol_pctx *c, json_t *rules);
int pol_parse_roles(struct pol_pctx *c, json_t *roles);

/* prefix.c: literal prefixes (of globs, or reversed suffixes) to items. */
#define POL_PFX_MAX 256 /* prefixes are at most 255 bytes (glob.h) */

struct pol_pfx_in {
	const char *s;
	size_t len;
	uint32_t item;
};

int pol_pfx_build(
    struct policy *p, struct pol_pfx_in *in, size_t n, struct pol_pfxidx *ix);
size_t pol_pfx_lookup(const struct pol_pfxidx *ix, const char *s, size_t slen,
    const uint32_t **slices, size_t *lens, size_t max);

/* index.c */
int pol_index_build(struct policy *p);
const struct pol_resource *
pol_index_entry(const struct policy *p, const char *resource);
const struct pol_rule *pol_index_rule(const struct policy *p, const char *id);

/* evaluate.c: one evaluation with the rules the index proposed. */
struct pol_eval {
	const struct policy_query *q;
	const char *role;
	const struct pol_resource *entry;
	uint32_t *cand; /* candidate rules, file order */
	size_t ncand, cap;
	uint32_t buf[256];
};

enum pol_miss {
	POL_MISS_NONE = 0,
	POL_MISS_USER,
	POL_MISS_GROUP,
	POL_MISS_RESOURCE,
	POL_MISS_LABEL,
	POL_MISS_ROLE,
	POL_MISS_DURATION,
	POL_MISS_PRINCIPAL, /* the rule does not grant the role */
};

void pol_decide(const struct policy *p, const struct policy_query *q,
    struct policy_decision *d, struct pol_eval *ev);
void pol_eval_free(struct pol_eval *ev);
enum pol_miss pol_rule_check(
    const struct pol_rule *r, const struct pol_eval *ev, size_t *which);
int pol_index_candidates(const struct policy *p, struct pol_eval *ev);

/*
 * certopts.c: fold rule r's certificate options into d (first: the first
 * matching rule).  Returns 0, or -1 when no certificate can satisfy the
 * rules folded so far, with why (len bytes) saying so.
 */
int pol_cert_fold(struct policy_decision *d, const struct pol_rule *r,
    bool first, char *why, size_t len);
bool pol_source_address_valid(const char *s);

/* glob.c: '?' in pat does not match a wildcard in a subject pattern. */
bool glob_covers(const char *pat, const char *subject);

const char *pol_outcome_name(enum policy_outcome o);

#endif
