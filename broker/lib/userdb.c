/*
 * userdb.c - NSS lookups that retry on ERANGE and never cut an answer.
 *
 * Each lookup allocates one block: the entry struct first, the strings
 * the NSS call writes after it.  ERANGE doubles the block, up to
 * USERDB_BUF_MAX; any other error is NSS failing to answer, which is not
 * the same as "no such entry" and is reported as BRK_ERR_IO.
 */
#include "userdb.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum kind {
	PW_NAM,
	PW_UID,
	GR_NAM,
	GR_GID
};

/* The size sysconf suggests for the strings, else a safe start. */
static size_t
buf_start(enum kind k)
{
	long n = sysconf(k == PW_NAM || k == PW_UID ? _SC_GETPW_R_SIZE_MAX :
						      _SC_GETGR_R_SIZE_MAX);

	return n > 0 && n < USERDB_BUF_MAX ? (size_t)n : 16384;
}

/* One call of the reentrant function for kind k into ent and buf. */
static int
nss_call(enum kind k, const char *name, uint32_t id, void *ent, char *buf,
    size_t len, void **res)
{
	switch (k) {
	case PW_NAM:
		return getpwnam_r(name, ent, buf, len, (struct passwd **)res);
	case PW_UID:
		return getpwuid_r(
		    (uid_t)id, ent, buf, len, (struct passwd **)res);
	case GR_NAM:
		return getgrnam_r(name, ent, buf, len, (struct group **)res);
	default:
		return getgrgid_r(
		    (gid_t)id, ent, buf, len, (struct group **)res);
	}
}

static int
lookup(enum kind k, const char *name, uint32_t id, void **out,
    struct brk_error *err)
{
	/* the strings follow the struct, aligned for any pointer */
	size_t head = k == PW_NAM || k == PW_UID ? sizeof(struct passwd) :
						   sizeof(struct group),
	       len = buf_start(k);
	char *blk = NULL, *nb;
	void *res;
	int e, r = BRK_ERR_NOMEM;

	*out = NULL;
	head = (head + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *);
	for (;;) {
		if ((nb = realloc(blk, head + len)) == NULL)
			goto out;
		blk = nb;
		res = NULL;
		errno = 0;
		e = nss_call(k, name, id, blk, blk + head, len, &res);
		/* some implementations (nss_wrapper among them) return -1
		 * and say why in errno */
		if (e == -1)
			e = errno != 0 ? errno : EIO;
		if (e != ERANGE)
			break;
		if (len >= USERDB_BUF_MAX) {
			r = brk_error_set(err, BRK_ERR_TOOBIG,
			    "an NSS entry "
			    "larger than %d bytes",
			    USERDB_BUF_MAX);
			goto out;
		}
		len *= 2;
	}
	/* ENOENT is how some NSS modules say "no such entry" */
	if ((e == 0 && res == NULL) || e == ENOENT) {
		r = BRK_ERR_NOTFOUND;
		goto out;
	}
	if (e != 0 || res != blk) {
		r = brk_error_set(err, BRK_ERR_IO, "NSS lookup failed: %s",
		    strerror(e != 0 ? e : EIO));
		goto out;
	}
	*out = blk;
	blk = NULL;
	r = 0;
out:
	free(blk);
	return r;
}

int
userdb_pwnam(const char *name, struct passwd **out, struct brk_error *err)
{
	return lookup(PW_NAM, name, 0, (void **)out, err);
}

int
userdb_pwuid(uid_t uid, struct passwd **out, struct brk_error *err)
{
	return lookup(PW_UID, NULL, (uint32_t)uid, (void **)out, err);
}

int
userdb_grnam(const char *name, struct group **out, struct brk_error *err)
{
	return lookup(GR_NAM, name, 0, (void **)out, err);
}

int
userdb_grgid(gid_t gid, struct group **out, struct brk_error *err)
{
	return lookup(GR_GID, NULL, (uint32_t)gid, (void **)out, err);
}

int
userdb_grouplist(const char *user, gid_t base, size_t max, gid_t **gids,
    size_t *n, struct brk_error *err)
{
	gid_t *v = NULL, *nv;
	int have = 64, want, r = BRK_ERR_NOMEM;

	*gids = NULL;
	*n = 0;
	if (max > USERDB_GROUPS_MAX)
		max = USERDB_GROUPS_MAX;
	for (;;) {
		if ((nv = realloc(v, (size_t)have * sizeof(*v))) == NULL)
			goto out;
		v = nv;
		want = have;
		if (getgrouplist(user, base, v, &want) >= 0)
			break;
		/* -1 with a count no larger than ours: not a size problem */
		if (want <= have) {
			r = brk_error_set(err, BRK_ERR_IO,
			    "NSS could not list "
			    "the groups of %.64s",
			    user);
			goto out;
		}
		if ((size_t)want > max) {
			r = brk_error_set(err, BRK_ERR_TOOBIG,
			    "%.64s is in "
			    "more than %zu groups",
			    user, max);
			goto out;
		}
		have = want;
	}
	if (want < 0 || (size_t)want > max) {
		r = brk_error_set(err, BRK_ERR_TOOBIG,
		    "%.64s is in more than "
		    "%zu groups",
		    user, max);
		goto out;
	}
	*gids = v;
	*n = (size_t)want;
	v = NULL;
	r = 0;
out:
	free(v);
	return r;
}
