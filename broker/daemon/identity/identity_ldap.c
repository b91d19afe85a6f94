/*
 * identity_ldap.c - users and groups from an LDAP directory (libldap).
 *
 * The only file that calls libldap.  A lookup is two searches on one
 * connection: the user (user_filter under user_base, whose user_attr must
 * equal the asked name byte for byte), then the groups that hold them
 * (groupOfNames/member and groupOfUniqueNames/uniqueMember by the user's
 * DN, posixGroup/memberUid by name), optionally groups of those groups up
 * to LDAP_NEST_MAX levels.  Every value put into a filter is escaped per
 * RFC 4515; no DN is ever built from strings.  The whole lookup shares one
 * deadline (the configured timeout): connect, StartTLS, bind and each
 * search get only what is left of it, and searches also send it as their
 * server-side time limit.  Connections are pooled and reused; one that
 * fails is dropped, and a reused one that turns out dead is replaced once.
 */
#include "identity_ldap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ldap.h>

#include "log.h"
#include "names.h"

#define POOL_MAX 4	  /* idle connections kept */
#define USER_SIZELIMIT 16 /* more candidate entries: ambiguous */
#define GROUP_SIZELIMIT 1024
#define MAX_GROUPS 256	 /* as IDENT_MAX_GROUPS: more = unknown */
#define NEST_FRONTIER 64 /* group DNs asked about per nested level */

struct idldap {
	const struct ldap_config *lc;
	pthread_mutex_t lock;
	LDAP *idle[POOL_MAX];
	size_t nidle;
};

/* Groups found so far: canonical names and the DNs they came from. */
struct found {
	char **names;
	size_t n;
	char **dns;
	size_t ndns;
	bool cut; /* something was left out: the list is not all */
};

bool
idldap_uri_ok(const char *uri)
{
	LDAPURLDesc *lud = NULL;
	bool ok;

	if (strchr(uri, '?') != NULL ||
	    ldap_url_parse(uri, &lud) != LDAP_URL_SUCCESS)
		return false;
	ok = (lud->lud_dn == NULL || lud->lud_dn[0] == '\0') &&
	    lud->lud_attrs == NULL && lud->lud_filter == NULL &&
	    lud->lud_exts == NULL;
	ldap_free_urldesc(lud);
	return ok;
}

bool
idldap_dn_ok(const char *dn)
{
	LDAPDN parsed = NULL;

	if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		return false;
	ldap_dnfree(parsed);
	return true;
}

int
idldap_filter_escape(const char *s, size_t len, char **out)
{
	struct berval in = { .bv_len = len, .bv_val = (char *)s };
	struct berval esc = { 0, NULL };

	*out = NULL;
	if (ldap_bv2escaped_filter_value(&in, &esc) != 0)
		return BRK_ERR_NOMEM;
	*out = strndup(esc.bv_val != NULL ? esc.bv_val : "", esc.bv_len);
	ber_memfree(esc.bv_val);
	return *out != NULL ? 0 : BRK_ERR_NOMEM;
}

int
idldap_filter_expand(const char *tmpl, const char *name, char **out)
{
	char *esc = NULL, *buf = NULL;
	size_t cap, len = 0, elen;
	const char *p;
	int r;

	*out = NULL;
	if ((r = idldap_filter_escape(name, strlen(name), &esc)) != 0)
		return r;
	elen = strlen(esc);
	cap = strlen(tmpl) * (elen + 1) + 1; /* every byte a "%u" at worst */
	r = BRK_ERR_NOMEM;
	if ((buf = malloc(cap)) == NULL)
		goto out;
	r = BRK_ERR_INVALID;
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			buf[len++] = *p;
			continue;
		}
		if (p[1] == 'u') {
			memcpy(buf + len, esc, elen);
			len += elen;
		} else if (p[1] == '%')
			buf[len++] = '%';
		else
			goto out;
		p++;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	r = 0;
out:
	free(buf);
	free(esc);
	return r;
}

int
idldap_new(
    const struct ldap_config *lc, struct idldap **out, struct brk_error *err)
{
	struct idldap *l;
	int debug = 0;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
	l->lc = lc;
	pthread_mutex_init(&l->lock, NULL);
	/* libldap sets up its globals on first use: do it before threads */
	ldap_get_option(NULL, LDAP_OPT_DEBUG_LEVEL, &debug);
	*out = l;
	return 0;
}

void
idldap_free(struct idldap *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->nidle; i++)
		ldap_unbind_ext_s(l->idle[i], NULL, NULL);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

void
idldap_groups_free(char **groups, size_t n)
{
	size_t i;

	for (i = 0; groups != NULL && i < n; i++)
		free(groups[i]);
	free(groups);
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What is left of the deadline; BRK_ERR_TIMEOUT when nothing. */
static int
left(long long end, struct timeval *tv, struct brk_error *err)
{
	long long ms = end - mono_ms();

	if (ms <= 0)
		return brk_error_set(
		    err, BRK_ERR_TIMEOUT, "ldap: no answer within the timeout");
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
	return 0;
}

/* Apply what is left of the deadline to every synchronous call on ld. */
static int
arm(LDAP *ld, long long end, struct timeval *tv, struct brk_error *err)
{
	int r;

	if ((r = left(end, tv, err)) != 0)
		return r;
	if (ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, tv) !=
		LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, tv) != LDAP_OPT_SUCCESS)
		return brk_error_set(
		    err, BRK_ERR_INTERNAL, "ldap: cannot set timeouts");
	return 0;
}

/* An LDAP result code as one of ours, with the server's words. */
static int
ldap_fail(LDAP *ld, int rc, const char *what, struct brk_error *err)
{
	char *diag = NULL;
	int r;

	switch (rc) {
	case LDAP_SERVER_DOWN:
	case LDAP_CONNECT_ERROR:
		r = BRK_ERR_UNREACHABLE;
		break;
	case LDAP_TIMEOUT:
	case LDAP_TIMELIMIT_EXCEEDED:
		r = BRK_ERR_TIMEOUT;
		break;
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_INSUFFICIENT_ACCESS:
	case LDAP_STRONG_AUTH_REQUIRED:
	case LDAP_CONFIDENTIALITY_REQUIRED:
		r = BRK_ERR_DENIED;
		break;
	case LDAP_NO_MEMORY:
		r = BRK_ERR_NOMEM;
		break;
	default:
		r = BRK_ERR_PROTOCOL;
	}
	if (ld != NULL)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	brk_error_set(err, r, "ldap: %s: %s%s%.200s", what, ldap_err2string(rc),
	    diag != NULL && *diag != '\0' ? ": " : "",
	    diag != NULL ? diag : "");
	ldap_memfree(diag);
	return r;
}

static int
set_tls_options(LDAP *ld, const struct ldap_config *lc)
{
	int demand = LDAP_OPT_X_TLS_DEMAND,
	    min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
	int newctx = 0;

	if (lc->ca != NULL &&
	    ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, lc->ca) !=
		LDAP_OPT_SUCCESS)
		return -1;
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) !=
		LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min) !=
		LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &newctx) !=
		LDAP_OPT_SUCCESS) /* last: the context takes the above */
		return -1;
	return 0;
}

/* A new connection, TLS as configured, bound; within the deadline. */
static int
conn_open(const struct ldap_config *lc, bool try_tls, long long end, LDAP **out,
    struct brk_error *err)
{
	struct berval cred;
	struct timeval tv;
	LDAP *ld = NULL;
	int v3 = LDAP_VERSION3, rc, r;

	*out = NULL;
	if ((rc = ldap_initialize(&ld, lc->uri)) != LDAP_SUCCESS) {
		r = ldap_fail(NULL, rc, "initialise", err);
		goto out;
	}
	r = brk_error_set(err, BRK_ERR_INTERNAL, "ldap: cannot set options");
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) !=
		LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) !=
		LDAP_OPT_SUCCESS ||
	    set_tls_options(ld, lc) != 0)
		goto out;
	if ((r = arm(ld, end, &tv, err)) != 0)
		goto out;
	if ((rc = ldap_connect(ld)) != LDAP_SUCCESS) {
		r = ldap_fail(ld, rc, "connect", err);
		goto out;
	}
	if (try_tls && lc->starttls != LDAP_STARTTLS_OFF) {
		if ((r = arm(ld, end, &tv, err)) != 0)
			goto out;
		if ((rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
			ldap_fail(ld, rc, "StartTLS", err);
			r = BRK_ERR_CRYPTO;
			goto out;
		}
	}
	if (lc->bind_dn != NULL) {
		if ((r = arm(ld, end, &tv, err)) != 0)
			goto out;
		cred.bv_val = lc->bind_password;
		cred.bv_len = lc->bind_password_len;
		rc = ldap_sasl_bind_s(
		    ld, lc->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			r = ldap_fail(ld, rc, "bind", err);
			goto out;
		}
	}
	*out = ld;
	ld = NULL;
	r = 0;
out:
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return r;
}

/* A connection: an idle one (*reused) or a new one. */
static int
conn_get(struct idldap *l, long long end, LDAP **out, bool *reused,
    struct brk_error *err)
{
	const struct ldap_config *lc = l->lc;
	int r;

	*out = NULL;
	*reused = false;
	pthread_mutex_lock(&l->lock);
	if (l->nidle > 0) {
		*out = l->idle[--l->nidle];
		*reused = true;
	}
	pthread_mutex_unlock(&l->lock);
	if (*out != NULL)
		return 0;
	r = conn_open(lc, true, end, out, err);
	if (r == BRK_ERR_CRYPTO && lc->starttls == LDAP_STARTTLS_ON) {
		/* "on" means try: go on in clear, on a fresh connection */
		log_warn("event=ldap_starttls_failed fallback=plain "
			 "error=\"%s\"",
		    err != NULL ? err->msg : "");
		r = conn_open(lc, false, end, out, err);
	}
	return r;
}

static void
conn_put(struct idldap *l, LDAP *ld)
{
	pthread_mutex_lock(&l->lock);
	if (l->nidle < POOL_MAX) {
		l->idle[l->nidle++] = ld;
		ld = NULL;
	}
	pthread_mutex_unlock(&l->lock);
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
}

/* A subtree search (base: one entry, whose absence is an empty answer,
 * not a failure). */
static int
search_scope(LDAP *ld, long long end, const char *base, int scope,
    const char *filter, char **attrs, int sizelimit, LDAPMessage **res,
    int *rcp, struct brk_error *err)
{
	struct timeval tv;
	int r, rc;

	*res = NULL;
	*rcp = LDAP_OTHER;
	if ((r = arm(ld, end, &tv, err)) != 0)
		return r;
	/* tv is also sent to the server as the search's time limit */
	rc = ldap_search_ext_s(
	    ld, base, scope, filter, attrs, 0, NULL, NULL, &tv, sizelimit, res);
	*rcp = rc;
	if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED ||
	    (rc == LDAP_NO_SUCH_OBJECT && scope == LDAP_SCOPE_BASE))
		return 0;
	ldap_msgfree(*res);
	*res = NULL;
	return ldap_fail(ld, rc, "search", err);
}

static int
search(LDAP *ld, long long end, const char *base, const char *filter,
    char **attrs, int sizelimit, LDAPMessage **res, int *rcp,
    struct brk_error *err)
{
	return search_scope(ld, end, base, LDAP_SCOPE_SUBTREE, filter, attrs,
	    sizelimit, res, rcp, err);
}

/* Does e hold user_attr == name exactly (case and all)? */
static bool
exact_name(LDAP *ld, LDAPMessage *e, const char *attr, const char *name)
{
	struct berval **vals = ldap_get_values_len(ld, e, attr);
	size_t i, len = strlen(name);
	bool yes = false;

	for (i = 0; vals != NULL && vals[i] != NULL; i++)
		if (vals[i]->bv_len == len &&
		    memcmp(vals[i]->bv_val, name, len) == 0)
			yes = true;
	ldap_value_free_len(vals);
	return yes;
}

/* A mail value fit to hand to a hook: one printable address, no spaces,
 * quotes or separators (anything else is left out, not cleaned). */
static char *
mail_value(LDAP *ld, LDAPMessage *e, const char *attr)
{
	struct berval **vals = ldap_get_values_len(ld, e, attr);
	const struct berval *v;
	char *out = NULL;
	size_t i, at = 0, n = 0;

	if (vals == NULL || vals[0] == NULL)
		goto out;
	v = vals[0];
	if (v->bv_len < 3 || v->bv_len > 254)
		goto out;
	for (i = 0; i < v->bv_len; i++) {
		unsigned char ch = (unsigned char)v->bv_val[i];

		if (ch <= 0x20 || ch >= 0x7f || strchr("\"\\<>,;()[]", ch))
			goto out;
		if (ch == '@') {
			at = i;
			n++;
		}
	}
	if (n == 1 && at > 0 && at + 1 < v->bv_len)
		out = strndup(v->bv_val, v->bv_len);
out:
	ldap_value_free_len(vals);
	return out;
}

/* The user's DN (*dn, ldap_memfree), or BRK_ERR_NOTFOUND; with mail not
 * NULL, the entry's mail_attr (mail_value()) too. */
static int
find_user(LDAP *ld, const struct ldap_config *lc, long long end,
    const char *name, char **dn, char **mail, struct brk_error *err)
{
	char *attrs[] = { lc->user_attr, lc->mail_attr, NULL }, *filter = NULL;
	LDAPMessage *res = NULL, *e;
	size_t matches = 0;
	int r, rc;

	*dn = NULL;
	if ((r = idldap_filter_expand(lc->user_filter, name, &filter)) != 0)
		goto out;
	if ((r = search(ld, end, lc->user_base, filter, attrs, USER_SIZELIMIT,
		 &res, &rc, err)) != 0)
		goto out;
	for (e = ldap_first_entry(ld, res); e != NULL;
	     e = ldap_next_entry(ld, e)) {
		if (!exact_name(ld, e, lc->user_attr, name))
			continue; /* "Alice" is not "alice" */
		if (matches++ == 0 && (*dn = ldap_get_dn(ld, e)) == NULL) {
			r = BRK_ERR_NOMEM;
			goto out;
		}
		if (matches == 1 && mail != NULL)
			*mail = mail_value(ld, e, lc->mail_attr);
	}
	r = BRK_ERR_NOTFOUND;
	if (matches > 1 || rc == LDAP_SIZELIMIT_EXCEEDED) {
		log_warn("event=ldap_ambiguous_user user=%s entries=%zu%s",
		    name, matches, rc == LDAP_SIZELIMIT_EXCEEDED ? "+" : "");
		brk_error_set(
		    err, r, "ldap: several entries match user %s", name);
		goto out;
	}
	if (matches == 0) {
		brk_error_set(err, r, "ldap: no user %s", name);
		goto out;
	}
	r = 0;
out:
	if (r != 0 && *dn != NULL) {
		ldap_memfree(*dn);
		*dn = NULL;
	}
	if (r != 0 && mail != NULL) {
		free(*mail);
		*mail = NULL;
	}
	ldap_msgfree(res);
	free(filter);
	return r;
}

/* The group's name: its RDN's cn, else its first cn; NULL if neither is
 * canonical. */
static char *
group_name(LDAP *ld, LDAPMessage *e, const char *dn)
{
	struct berval **vals = NULL;
	LDAPDN parsed = NULL;
	char buf[65], *out = NULL;
	struct berval *v = NULL;

	if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS &&
	    parsed != NULL && parsed[0] != NULL && parsed[0][0] != NULL &&
	    parsed[0][1] == NULL && parsed[0][0]->la_attr.bv_len == 2 &&
	    strncasecmp(parsed[0][0]->la_attr.bv_val, "cn", 2) == 0)
		v = &parsed[0][0]->la_value;
	if (v == NULL && (vals = ldap_get_values_len(ld, e, "cn")) != NULL &&
	    vals[0] != NULL)
		v = vals[0];
	if (v != NULL && v->bv_len < sizeof(buf)) {
		memcpy(buf, v->bv_val, v->bv_len);
		buf[v->bv_len] = '\0';
		if (strlen(buf) == v->bv_len && name_group_valid(buf))
			out = strdup(buf);
	}
	ldap_value_free_len(vals);
	ldap_dnfree(parsed);
	return out;
}

static bool
seen_dn(const struct found *f, const char *dn)
{
	size_t i;

	for (i = 0; i < f->ndns; i++)
		if (strcmp(f->dns[i], dn) == 0)
			return true;
	return false;
}

static int
add_found(struct found *f, char *name, const char *dn)
{
	size_t i;
	bool dup = false;

	if (f->ndns < MAX_GROUPS) {
		if ((f->dns[f->ndns] = strdup(dn)) == NULL) {
			free(name);
			return BRK_ERR_NOMEM;
		}
		f->ndns++;
	} else
		f->cut = true; /* its groups would go unsearched */
	for (i = 0; name != NULL && i < f->n; i++)
		dup = dup || strcmp(f->names[i], name) == 0;
	if (name != NULL && !dup && f->n >= MAX_GROUPS)
		f->cut = true; /* more groups than we track */
	if (name == NULL || dup || f->n >= MAX_GROUPS) {
		free(name); /* no rule can name it, held, or cut */
		return 0;
	}
	f->names[f->n++] = name;
	return 0;
}

/* Run one group search and add what it finds (new DNs only). */
static int
group_search(LDAP *ld, const struct ldap_config *lc, long long end,
    const char *filter, struct found *f, struct brk_error *err)
{
	char *attrs[] = { "cn", NULL }, *dn;
	LDAPMessage *res = NULL, *e;
	int r, rc;

	if ((r = search(ld, end, lc->group_base, filter, attrs, GROUP_SIZELIMIT,
		 &res, &rc, err)) != 0)
		return r;
	if (rc == LDAP_SIZELIMIT_EXCEEDED) {
		log_warn("event=ldap_group_limit limit=%d", GROUP_SIZELIMIT);
		f->cut = true;
	}
	for (e = ldap_first_entry(ld, res); r == 0 && e != NULL;
	     e = ldap_next_entry(ld, e)) {
		if ((dn = ldap_get_dn(ld, e)) == NULL) {
			r = BRK_ERR_NOMEM;
			break;
		}
		if (!seen_dn(f, dn))
			r = add_found(f, group_name(ld, e, dn), dn);
		ldap_memfree(dn);
	}
	ldap_msgfree(res);
	return r;
}

/* Append "(attr=ESCAPED)" for len bytes of value; false when no room. */
static bool
put_term(
    char *buf, size_t cap, size_t *len, const char *attr, const char *value)
{
	char *esc = NULL;
	int n;

	if (idldap_filter_escape(value, strlen(value), &esc) != 0)
		return false;
	n = snprintf(buf + *len, cap - *len, "(%s=%s)", attr, esc);
	free(esc);
	if (n < 0 || (size_t)n >= cap - *len)
		return false;
	*len += (size_t)n;
	return true;
}

/* The groups that hold the user directly. */
static int
direct_groups(LDAP *ld, const struct ldap_config *lc, long long end,
    const char *dn, const char *name, struct found *f, struct brk_error *err)
{
	size_t cap = 3 * (strlen(dn) * 3 + strlen(name) * 3) + 256, len = 0;
	char *filter;
	bool ok;
	int r;

	if ((filter = malloc(cap)) == NULL)
		return BRK_ERR_NOMEM;
	len = (size_t)snprintf(filter, cap, "(|(&(objectClass=groupOfNames)");
	ok = put_term(filter, cap, &len, "member", dn);
	ok = ok &&
	    (len += (size_t)snprintf(filter + len, cap - len,
		 ")(&(objectClass=groupOfUniqueNames)")) < cap;
	ok = ok && put_term(filter, cap, &len, "uniqueMember", dn);
	ok = ok &&
	    (len += (size_t)snprintf(
		 filter + len, cap - len, ")(&(objectClass=posixGroup)")) < cap;
	ok = ok && put_term(filter, cap, &len, "memberUid", name);
	ok = ok &&
	    (len += (size_t)snprintf(filter + len, cap - len, "))")) < cap;
	r = ok ? group_search(ld, lc, end, filter, f, err) : BRK_ERR_NOMEM;
	free(filter);
	return r;
}

/* Groups whose member/uniqueMember is one of f->dns[from..to). */
static int
nested_level(LDAP *ld, const struct ldap_config *lc, long long end,
    struct found *f, size_t from, size_t to, struct brk_error *err)
{
	static const char *const attrs[] = { "member", "uniqueMember" };
	size_t cap = 64, len = 0, i, k;
	char *filter;
	bool ok = true;
	int r;

	if (to - from > NEST_FRONTIER) {
		to = from + NEST_FRONTIER;
		f->cut = true; /* the rest go unsearched */
	}
	for (i = from; i < to; i++)
		cap += 2 * (strlen(f->dns[i]) * 3 + 16);
	cap += 128;
	if ((filter = malloc(cap)) == NULL)
		return BRK_ERR_NOMEM;
	len = (size_t)snprintf(filter, cap, "(|");
	for (k = 0; ok && k < 2; k++) {
		ok = (len += (size_t)snprintf(filter + len, cap - len,
			  "(&(objectClass=%s)(|",
			  k == 0 ? "groupOfNames" : "groupOfUniqueNames")) <
		    cap;
		for (i = from; ok && i < to; i++)
			ok = put_term(filter, cap, &len, attrs[k], f->dns[i]);
		ok = ok &&
		    (len += (size_t)snprintf(filter + len, cap - len, "))")) <
			cap;
	}
	ok = ok &&
	    (len += (size_t)snprintf(filter + len, cap - len, ")")) < cap;
	r = ok ? group_search(ld, lc, end, filter, f, err) : BRK_ERR_NOMEM;
	free(filter);
	return r;
}

/* One attempt on one connection. */
static int
lookup_on(LDAP *ld, const struct ldap_config *lc, long long end,
    const char *name, struct found *f, char **mail, struct brk_error *err)
{
	size_t from = 0, to, depth;
	char *dn = NULL;
	int r;

	if ((r = find_user(ld, lc, end, name, &dn, mail, err)) != 0)
		goto out;
	if ((r = direct_groups(ld, lc, end, dn, name, f, err)) != 0)
		goto out;
	for (depth = 1; lc->nested_groups; depth++) {
		to = f->ndns;
		if (to == from)
			break;
		if ((r = nested_level(ld, lc, end, f, from, to, err)) != 0)
			goto out;
		/* one level past the limit is asked only to know whether the
		 * nesting goes deeper than we follow: then the list is cut */
		if (depth == LDAP_NEST_MAX) {
			if (f->ndns > to)
				f->cut = true;
			break;
		}
		from = to;
	}
out:
	ldap_memfree(dn);
	return r;
}

static void
found_reset(struct found *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->names[i]);
	for (i = 0; i < f->ndns; i++)
		free(f->dns[i]);
	f->n = f->ndns = 0;
	f->cut = false;
}

int
idldap_lookup(struct idldap *l, const char *name, char ***groups,
    size_t *ngroups, struct brk_error *err)
{
	return idldap_lookup_user(l, name, groups, ngroups, NULL, err);
}

int
idldap_lookup_user(struct idldap *l, const char *name, char ***groups,
    size_t *ngroups, char **mail, struct brk_error *err)
{
	struct found f = { NULL, 0, NULL, 0, false };
	long long end = mono_ms() + (long long)l->lc->timeout * 1000;
	LDAP *ld = NULL;
	bool reused = false;
	int r, tries;

	*groups = NULL;
	*ngroups = 0;
	if (mail != NULL)
		*mail = NULL;
	if (!name_user_valid(name))
		return brk_error_set(
		    err, BRK_ERR_INVALID, "ldap: not a canonical user name");
	r = BRK_ERR_NOMEM;
	if ((f.names = calloc(MAX_GROUPS, sizeof(char *))) == NULL ||
	    (f.dns = calloc(MAX_GROUPS, sizeof(char *))) == NULL)
		goto out;
	for (tries = 0; tries < 2; tries++) {
		found_reset(&f);
		if (mail != NULL) {
			free(*mail);
			*mail = NULL;
		}
		if ((r = conn_get(l, end, &ld, &reused, err)) != 0)
			goto out;
		r = lookup_on(ld, l->lc, end, name, &f, mail, err);
		if (r == 0 || r == BRK_ERR_NOTFOUND) {
			conn_put(l, ld);
			ld = NULL;
			break;
		}
		ldap_unbind_ext_s(ld, NULL, NULL);
		ld = NULL;
		/* an idle connection the server has closed: once more */
		if (!reused || r != BRK_ERR_UNREACHABLE)
			break;
	}
	if (r != 0)
		goto out;
	if (f.cut) {
		log_warn("event=ldap_groups_cut user=%s kept=%zu", name, f.n);
		r = brk_error_set(err, BRK_ERR_TOOBIG,
		    "ldap: %s is in more "
		    "groups than the broker tracks",
		    name);
		goto out;
	}
	*groups = f.names;
	*ngroups = f.n;
	f.names = NULL;
	f.n = 0;
out:
	if (r != 0 && mail != NULL) {
		free(*mail);
		*mail = NULL;
	}
	found_reset(&f);
	free(f.names);
	free(f.dns);
	return r;
}

/* ---- group -> members ------------------------------------------------ */

/* Members found so far: user names, the DNs still to look at (the next
 * level's), and every DN seen (a group that holds itself ends). */
struct members {
	char **names;
	size_t n;
	char **todo, **next, **seen;
	size_t ntodo, nnext, nseen;
	bool cut;
};

static bool
in_list(char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* Add a copy of len bytes of s to list (at most IDLDAP_MEMBERS_MAX). */
static int
list_add(char **list, size_t *n, const char *s, size_t len, bool *cut)
{
	char *copy;

	if ((copy = strndup(s, len)) == NULL)
		return BRK_ERR_NOMEM;
	if (in_list(list, *n, copy)) {
		free(copy);
		return 0;
	}
	if (*n >= IDLDAP_MEMBERS_MAX) {
		free(copy);
		*cut = true;
		return 0;
	}
	list[(*n)++] = copy;
	return 0;
}

static void
list_free(char **list, size_t n)
{
	size_t i;

	for (i = 0; list != NULL && i < n; i++)
		free(list[i]);
}

/* A canonical user name from a memberUid or user_attr value. */
static int
add_name(struct members *m, const struct berval *v)
{
	char buf[65];

	if (v->bv_len == 0 || v->bv_len >= sizeof(buf) ||
	    memchr(v->bv_val, '\0', v->bv_len) != NULL)
		return 0;
	memcpy(buf, v->bv_val, v->bv_len);
	buf[v->bv_len] = '\0';
	if (!name_user_valid(buf))
		return 0; /* no rule can name it: not a person for us */
	return list_add(m->names, &m->n, buf, v->bv_len, &m->cut);
}

/* The members an entry lists: memberUid names, member/uniqueMember DNs
 * (for the next level). */
static int
take_members(LDAP *ld, LDAPMessage *e, struct members *m)
{
	static const char *const dn_attrs[] = { "member", "uniqueMember" };
	struct berval **vals;
	size_t i, k;
	int r = 0;

	vals = ldap_get_values_len(ld, e, "memberUid");
	for (i = 0; r == 0 && vals != NULL && vals[i] != NULL; i++)
		r = add_name(m, vals[i]);
	ldap_value_free_len(vals);
	for (k = 0; r == 0 && k < 2; k++) {
		vals = ldap_get_values_len(ld, e, dn_attrs[k]);
		for (i = 0; r == 0 && vals != NULL && vals[i] != NULL; i++)
			if (memchr(vals[i]->bv_val, '\0', vals[i]->bv_len) ==
			    NULL)
				r = list_add(m->next, &m->nnext,
				    vals[i]->bv_val, vals[i]->bv_len, &m->cut);
		ldap_value_free_len(vals);
	}
	return r;
}

static bool
is_group(LDAP *ld, LDAPMessage *e)
{
	struct berval **vals = ldap_get_values_len(ld, e, "objectClass");
	size_t i;
	bool yes = false;

	for (i = 0; vals != NULL && vals[i] != NULL; i++)
		if ((vals[i]->bv_len == 12 &&
			strncasecmp(vals[i]->bv_val, "groupOfNames", 12) ==
			    0) ||
		    (vals[i]->bv_len == 18 &&
			strncasecmp(
			    vals[i]->bv_val, "groupOfUniqueNames", 18) == 0) ||
		    (vals[i]->bv_len == 10 &&
			strncasecmp(vals[i]->bv_val, "posixGroup", 10) == 0))
			yes = true;
	ldap_value_free_len(vals);
	return yes;
}

/* The entries named GROUP: their members into m. */
static int
group_entries(LDAP *ld, const struct ldap_config *lc, long long end,
    const char *group, struct members *m, struct brk_error *err)
{
	char *attrs[] = { "cn", "memberUid", "member", "uniqueMember", NULL };
	char *filter = NULL, *esc = NULL, *dn, *name;
	LDAPMessage *res = NULL, *e;
	size_t cap;
	int r, rc;

	if ((r = idldap_filter_escape(group, strlen(group), &esc)) != 0)
		return r;
	cap = strlen(esc) + 160;
	r = BRK_ERR_NOMEM;
	if ((filter = malloc(cap)) == NULL)
		goto out;
	snprintf(filter, cap,
	    "(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)"
	    "(objectClass=posixGroup))(cn=%s))",
	    esc);
	if ((r = search(ld, end, lc->group_base, filter, attrs, GROUP_SIZELIMIT,
		 &res, &rc, err)) != 0)
		goto out;
	if (rc == LDAP_SIZELIMIT_EXCEEDED)
		m->cut = true;
	for (e = ldap_first_entry(ld, res); r == 0 && e != NULL;
	     e = ldap_next_entry(ld, e)) {
		if ((dn = ldap_get_dn(ld, e)) == NULL) {
			r = BRK_ERR_NOMEM;
			break;
		}
		/* the same name the user's side gives the entry, or not ours */
		name = group_name(ld, e, dn);
		if (name != NULL && strcmp(name, group) == 0) {
			r = list_add(
			    m->seen, &m->nseen, dn, strlen(dn), &m->cut);
			if (r == 0)
				r = take_members(ld, e, m);
		}
		free(name);
		ldap_memfree(dn);
	}
out:
	ldap_msgfree(res);
	free(filter);
	free(esc);
	return r;
}

/* Look at the DNs of one level: a user's entry gives its user_attr, a
 * group's (nested_groups) its members, for the next level. */
static int
member_level(LDAP *ld, const struct ldap_config *lc, long long end,
    struct members *m, bool last, struct brk_error *err)
{
	char *attrs[] = { lc->user_attr, "objectClass", "memberUid", "member",
		"uniqueMember", NULL };
	LDAPMessage *res = NULL, *e;
	struct berval **vals;
	size_t i;
	int r = 0, rc;

	for (i = 0; r == 0 && i < m->ntodo; i++) {
		if (in_list(m->seen, m->nseen, m->todo[i]))
			continue;
		if ((r = list_add(m->seen, &m->nseen, m->todo[i],
			 strlen(m->todo[i]), &m->cut)) != 0)
			break;
		if ((r = search_scope(ld, end, m->todo[i], LDAP_SCOPE_BASE,
			 "(objectClass=*)", attrs, 1, &res, &rc, err)) != 0)
			break;
		if ((e = ldap_first_entry(ld, res)) == NULL)
			; /* a member that is not there is no one */
		else if (is_group(ld, e)) {
			if (lc->nested_groups && last)
				m->cut = true; /* deeper than followed */
			else if (lc->nested_groups)
				r = take_members(ld, e, m);
		} else {
			/* the user's side finds users under user_base by
			 * user_filter: the caller checks that way round */
			vals = ldap_get_values_len(ld, e, lc->user_attr);
			if (vals != NULL && vals[0] != NULL && vals[1] == NULL)
				r = add_name(m, vals[0]);
			ldap_value_free_len(vals);
		}
		ldap_msgfree(res);
		res = NULL;
	}
	return r;
}

static void
members_reset(struct members *m)
{
	list_free(m->names, m->n);
	list_free(m->todo, m->ntodo);
	list_free(m->next, m->nnext);
	list_free(m->seen, m->nseen);
	m->n = m->ntodo = m->nnext = m->nseen = 0;
	m->cut = false;
}

static int
members_on(LDAP *ld, const struct ldap_config *lc, long long end,
    const char *group, struct members *m, struct brk_error *err)
{
	char **swap;
	size_t depth;
	int r;

	if ((r = group_entries(ld, lc, end, group, m, err)) != 0)
		return r;
	/* level 0 holds the group's own member DNs; each nested level
	 * one more, as the user's side follows LDAP_NEST_MAX of them */
	for (depth = 0; r == 0 && m->nnext > 0 && !m->cut; depth++) {
		list_free(m->todo, m->ntodo);
		swap = m->todo;
		m->todo = m->next;
		m->ntodo = m->nnext;
		m->next = swap;
		m->nnext = 0;
		r = member_level(ld, lc, end, m, depth >= LDAP_NEST_MAX, err);
	}
	return r;
}

int
idldap_group_members(struct idldap *l, const char *group, char ***names,
    size_t *n, struct brk_error *err)
{
	struct members m = { 0 };
	long long end = mono_ms() + (long long)l->lc->timeout * 1000;
	LDAP *ld = NULL;
	bool reused = false;
	int r, tries;

	*names = NULL;
	*n = 0;
	if (!name_group_valid(group))
		return brk_error_set(
		    err, BRK_ERR_INVALID, "ldap: not a canonical group name");
	r = BRK_ERR_NOMEM;
	if ((m.names = calloc(IDLDAP_MEMBERS_MAX, sizeof(char *))) == NULL ||
	    (m.todo = calloc(IDLDAP_MEMBERS_MAX, sizeof(char *))) == NULL ||
	    (m.next = calloc(IDLDAP_MEMBERS_MAX, sizeof(char *))) == NULL ||
	    (m.seen = calloc(IDLDAP_MEMBERS_MAX, sizeof(char *))) == NULL)
		goto out;
	for (tries = 0; tries < 2; tries++) {
		members_reset(&m);
		if ((r = conn_get(l, end, &ld, &reused, err)) != 0)
			goto out;
		r = members_on(ld, l->lc, end, group, &m, err);
		if (r == 0) {
			conn_put(l, ld);
			ld = NULL;
			break;
		}
		ldap_unbind_ext_s(ld, NULL, NULL);
		ld = NULL;
		if (!reused || r != BRK_ERR_UNREACHABLE)
			break;
	}
	if (r != 0)
		goto out;
	if (m.cut) {
		log_warn(
		    "event=ldap_members_cut group=%s kept=%zu", group, m.n);
		r = brk_error_set(err, BRK_ERR_TOOBIG,
		    "ldap: group %s has more members than the broker lists",
		    group);
		goto out;
	}
	*names = m.names;
	*n = m.n;
	m.names = NULL;
	m.n = 0;
out:
	members_reset(&m);
	free(m.names);
	free(m.todo);
	free(m.next);
	free(m.seen);
	return r;
}
