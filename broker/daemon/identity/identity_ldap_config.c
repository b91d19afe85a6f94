/*
 * identity_ldap_config.c - the config's "ldap" section, parsed strictly.
 *
 * Like the rest of the config: unknown keys and wrong types are errors
 * that name the key.  Syntax that only libldap can judge (URIs, DNs) is
 * checked through identity_ldap.c, which stays the only file calling
 * libldap.  The bind password is read here, once, from a file that must
 * be ours and private (0600 or stricter); it is wiped when freed.
 */
#include "identity_ldap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"

#define PASSWORD_MAX 1024

static int
get_str(
    json_t *v, const char *key, size_t max, char **dst, struct brk_error *err)
{
	const char *s = json_string_value(v);
	size_t i;

	if (s == NULL || json_string_length(v) == 0 ||
	    json_string_length(v) > max || strlen(s) != json_string_length(v))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: ldap.%s "
		    "must be a non-empty string of at most %zu bytes",
		    key, max);
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: "
			    "ldap.%s must not hold control characters",
			    key);
	free(*dst);
	if ((*dst = strdup(s)) == NULL)
		return BRK_ERR_NOMEM;
	return 0;
}

static int
get_dn(json_t *v, const char *key, char **dst, struct brk_error *err)
{
	int r;

	if ((r = get_str(v, key, 1024, dst, err)) != 0)
		return r;
	if (!idldap_dn_ok(*dst))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: ldap.%s "
		    "is not a valid DN (RFC 4514)",
		    key);
	return 0;
}

static int
get_uri(json_t *v, struct ldap_config *lc, struct brk_error *err)
{
	int r;

	if ((r = get_str(v, "uri", 1024, &lc->uri, err)) != 0)
		return r;
	if ((strncasecmp(lc->uri, "ldap://", 7) != 0 &&
		strncasecmp(lc->uri, "ldaps://", 8) != 0 &&
		strncasecmp(lc->uri, "ldapi://", 8) != 0) ||
	    strchr(lc->uri, ' ') != NULL || !idldap_uri_ok(lc->uri))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: ldap.uri "
		    "must be one ldap://, ldaps:// or ldapi:// URI with no "
		    "path, like \"ldap://ldap.example.com:389\"");
	return 0;
}

static int
get_starttls(json_t *v, struct ldap_config *lc, struct brk_error *err)
{
	const char *s = json_string_value(v);

	if (s != NULL && strcmp(s, "off") == 0)
		lc->starttls = LDAP_STARTTLS_OFF;
	else if (s != NULL && strcmp(s, "on") == 0)
		lc->starttls = LDAP_STARTTLS_ON;
	else if (s != NULL && strcmp(s, "required") == 0)
		lc->starttls = LDAP_STARTTLS_REQUIRED;
	else
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: "
		    "ldap.starttls is one of \"off\", \"on\", \"required\"");
	return 0;
}

/* "(...)" with balanced parentheses, "%u" at least once, only %u / %%. */
static int
get_filter(json_t *v, struct ldap_config *lc, struct brk_error *err)
{
	char *probe = NULL;
	const char *s;
	int depth = 0, r;

	if ((r = get_str(v, "user_filter", 1024, &lc->user_filter, err)) != 0)
		return r;
	s = lc->user_filter;
	r = BRK_ERR_INVALID;
	if (s[0] != '(' || s[strlen(s) - 1] != ')' || strstr(s, "%u") == NULL)
		goto bad;
	for (; *s != '\0'; s++) {
		depth += *s == '(' ? 1 : *s == ')' ? -1 : 0;
		if (depth < 0 || (depth == 0 && s[1] != '\0'))
			goto bad;
	}
	if (depth != 0)
		goto bad;
	if ((r = idldap_filter_expand(lc->user_filter, "x", &probe)) == 0)
		goto out;
bad:
	brk_error_set(err, r,
	    "config: ldap.user_filter must be one "
	    "parenthesised LDAP filter using %%u for the user name (and "
	    "%%%% for a %%), like \"(uid=%%u)\"");
out:
	free(probe);
	return r;
}

/* user_attr, mail_attr: an attribute name (or OID), nothing else. */
static int
get_attr(json_t *v, const char *key, char **dst, struct brk_error *err)
{
	const char *s;
	int r;

	if ((r = get_str(v, key, 64, dst, err)) != 0)
		return r;
	for (s = *dst; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: "
			    "ldap.%s must be an attribute name",
			    key);
	return 0;
}

static int
read_password(json_t *v, struct ldap_config *lc, struct brk_error *err)
{
	char *path = NULL, *buf = NULL;
	size_t raw = 0, len;
	int r;

	if ((r = get_str(v, "bind_password_file", 4096, &path, err)) != 0)
		return r;
	/* Two bytes over for a line end, so a longer file is "too large". */
	if ((r = file_read_checked(path, "config: ldap.bind_password_file",
		 FILE_NOFOLLOW | FILE_OURS | FILE_PRIVATE, PASSWORD_MAX + 2,
		 &buf, &raw, err)) != 0)
		goto out;
	len = raw;
	r = BRK_ERR_INVALID;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || len > PASSWORD_MAX || memchr(buf, '\0', len) != NULL) {
		brk_error_set(err, r,
		    "config: ldap.bind_password_file %s "
		    "must hold one password of 1 to %d bytes",
		    path, PASSWORD_MAX);
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if ((lc->bind_password = malloc(len + 1)) == NULL)
		goto out;
	memcpy(lc->bind_password, buf, len);
	lc->bind_password[len] = '\0';
	lc->bind_password_len = len;
	r = 0;
out:
	file_free_secret(buf, raw);
	free(path);
	return r;
}

static int
get_ca(json_t *v, struct ldap_config *lc, struct brk_error *err)
{
	struct stat st;
	int r;

	if ((r = get_str(v, "ca", 4096, &lc->ca, err)) != 0)
		return r;
	if (stat(lc->ca, &st) != 0 || !S_ISREG(st.st_mode) ||
	    access(lc->ca, R_OK) != 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: ldap.ca "
		    "%s is not a readable file",
		    lc->ca);
	return 0;
}

static int
get_bool(json_t *v, const char *key, bool *out, struct brk_error *err)
{
	if (!json_is_boolean(v))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: ldap.%s "
		    "must be true or false",
		    key);
	*out = json_is_true(v);
	return 0;
}

static int
apply_key(struct ldap_config *lc, const char *key, json_t *v, bool *has_pw,
    struct brk_error *err)
{
	if (strcmp(key, "uri") == 0)
		return get_uri(v, lc, err);
	if (strcmp(key, "starttls") == 0)
		return get_starttls(v, lc, err);
	if (strcmp(key, "ca") == 0)
		return get_ca(v, lc, err);
	if (strcmp(key, "bind_dn") == 0)
		return get_dn(v, key, &lc->bind_dn, err);
	if (strcmp(key, "bind_password_file") == 0) {
		*has_pw = true;
		return read_password(v, lc, err);
	}
	if (strcmp(key, "user_base") == 0)
		return get_dn(v, key, &lc->user_base, err);
	if (strcmp(key, "group_base") == 0)
		return get_dn(v, key, &lc->group_base, err);
	if (strcmp(key, "user_filter") == 0)
		return get_filter(v, lc, err);
	if (strcmp(key, "user_attr") == 0)
		return get_attr(v, key, &lc->user_attr, err);
	if (strcmp(key, "mail_attr") == 0)
		return get_attr(v, key, &lc->mail_attr, err);
	if (strcmp(key, "nested_groups") == 0)
		return get_bool(v, key, &lc->nested_groups, err);
	if (strcmp(key, "cache_ttl") == 0)
		return config_get_int(
		    "ldap", v, key, 1, 86400, &lc->cache_ttl, err);
	if (strcmp(key, "cache_stale_max") == 0)
		return config_get_int(
		    "ldap", v, key, 1, 7 * 86400, &lc->cache_stale_max, err);
	if (strcmp(key, "timeout") == 0)
		return config_get_int(
		    "ldap", v, key, 1, LDAP_CFG_TIMEOUT_MAX, &lc->timeout, err);
	if (strcmp(key, "cache_size") == 0)
		return config_get_int(
		    "ldap", v, key, 1, 1000000, &lc->cache_size, err);
	return brk_error_set(
	    err, BRK_ERR_INVALID, "config: unknown key \"ldap.%.64s\"", key);
}

/* Rules across keys, once all are read. */
static int
check_whole(struct ldap_config *lc, bool has_pw, struct brk_error *err)
{
	if (lc->uri == NULL || lc->user_base == NULL)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: ldap.uri "
		    "and ldap.user_base are required");
	if ((lc->bind_dn != NULL) != has_pw)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: ldap."
		    "bind_dn and ldap.bind_password_file go together (leave "
		    "both out for an anonymous bind)");
	if (lc->starttls != LDAP_STARTTLS_OFF &&
	    strncasecmp(lc->uri, "ldap://", 7) != 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: ldap."
		    "starttls needs an ldap:// uri (ldaps:// is TLS already)");
	if (lc->cache_stale_max < lc->cache_ttl)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: ldap."
		    "cache_stale_max (%d) must be at least cache_ttl (%d)",
		    lc->cache_stale_max, lc->cache_ttl);
	if (lc->user_filter == NULL &&
	    (lc->user_filter = strdup("(uid=%u)")) == NULL)
		return BRK_ERR_NOMEM;
	if (lc->user_attr == NULL && (lc->user_attr = strdup("uid")) == NULL)
		return BRK_ERR_NOMEM;
	if (lc->mail_attr == NULL && (lc->mail_attr = strdup("mail")) == NULL)
		return BRK_ERR_NOMEM;
	if (lc->group_base == NULL &&
	    (lc->group_base = strdup(lc->user_base)) == NULL)
		return BRK_ERR_NOMEM;
	return 0;
}

int
ldap_config_parse(
    json_t *section, struct ldap_config **out, struct brk_error *err)
{
	struct ldap_config *lc = NULL;
	const char *key;
	bool has_pw = false;
	json_t *v;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if (!json_is_object(section))
		return brk_error_set(
		    err, BRK_ERR_INVALID, "config: \"ldap\" must be an object");
	if ((lc = calloc(1, sizeof(*lc))) == NULL)
		goto out;
	lc->starttls = LDAP_STARTTLS_OFF;
	lc->cache_ttl = LDAP_CFG_TTL_DEFAULT;
	lc->cache_stale_max = LDAP_CFG_STALE_DEFAULT;
	lc->timeout = LDAP_CFG_TIMEOUT_DEFAULT;
	lc->cache_size = LDAP_CFG_CACHE_DEFAULT;
	json_object_foreach (section, key, v)
		if ((r = apply_key(lc, key, v, &has_pw, err)) != 0)
			goto out;
	if ((r = check_whole(lc, has_pw, err)) != 0)
		goto out;
	*out = lc;
	lc = NULL;
	r = 0;
out:
	ldap_config_free(lc);
	return r;
}

void
ldap_config_free(struct ldap_config *lc)
{
	if (lc == NULL)
		return;
	if (lc->bind_password != NULL)
		explicit_bzero(lc->bind_password, lc->bind_password_len);
	free(lc->bind_password);
	free(lc->uri);
	free(lc->ca);
	free(lc->bind_dn);
	free(lc->user_base);
	free(lc->user_filter);
	free(lc->user_attr);
	free(lc->mail_attr);
	free(lc->group_base);
	free(lc);
}
