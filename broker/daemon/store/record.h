/*
 * record.h - an access request as the broker stores it.
 *
 * A grant is a request in state "active": its serial is the grant serial
 * (and the certificate serial), its window runs from starts_at to
 * expires_at.  While pending, expires_at is when the request itself lapses.
 * A grant whose window opens later (request --start) is "scheduled" until
 * starts_at; records written before that state existed say "active" with a
 * later starts_at, and reqstore_effective() reports them as scheduled.
 */
#ifndef BRK_RECORD_H
#define BRK_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum req_state {
	ST_PENDING,
	ST_ACTIVE,
	ST_DENIED,
	ST_CANCELLED,
	ST_EXPIRED,
	ST_REVOKED,
	ST_SCHEDULED, /* appended: stored values of the others never change */
	ST__COUNT
};

#define REC_NAME 65 /* user and role names, with NUL */
#define REC_RESOURCE 256
#define REC_LIST 1024	/* comma-separated lists of ids or names */
#define REC_TEXT 4097	/* free text: reasons, tickets */
#define REC_OPTION 1025 /* a certificate option, with NUL */

struct request {
	uint64_t serial;
	enum req_state state;
	char user[REC_NAME];   /* who gets the access */
	char caller[REC_NAME]; /* who asked (differs under --as) */
	char resource[REC_RESOURCE];
	char role[REC_NAME]; /* certificate principal */
	int64_t created_at, decided_at, starts_at, expires_at, ended_at;
	int64_t requested_ttl, ttl;
	int64_t requested_start; /* a later window asked for, or 0 */
	bool clamped, automatic, break_glass;
	bool require_reason, require_ticket;
	uint64_t policy_version;
	int quorum, approvals;
	char rules[REC_LIST]; /* matched rule ids */
	char rule[REC_NAME];  /* the deciding rule */
	char optouts[256];    /* opt-outs that applied: "o3,o7" */
	char decision[512];   /* the decision in plain words */
	char approver_groups[REC_LIST];
	char approver_users[REC_LIST];
	char reason[REC_TEXT];
	char ticket[256];
	char incident[256];
	char ended_by[REC_NAME];
	char end_reason[REC_TEXT];
	/*
	 * What the grant's certificates may carry, fixed when the request was
	 * decided (a later policy edit never changes it).  cert_known is
	 * false for records written before these were stored: no certificate
	 * is issued for those, since the options they had are not known.
	 */
	bool cert_known;
	unsigned cert_extensions;	/* POLICY_EXT_* bits */
	char force_command[REC_OPTION]; /* "" when not set */
	char source_address[REC_OPTION];
};

const char *req_state_name(enum req_state s);
/* -1 when unknown. */
int req_state_parse(const char *s);

/* "r42" for serial 42. */
void req_id(uint64_t serial, char buf[24]);
/* Accepts "r42" or "42"; BRK_ERR_INVALID otherwise. */
int req_id_parse(const char *s, uint64_t *serial);

struct sshbuf;
/* The stored form, appended to b. */
int record_encode(const struct request *r, struct sshbuf *b);
/* BRK_ERR_INVALID on a record this version cannot read. */
int record_decode(const void *data, size_t len, struct request *r);

/* The public view of a request (the reply and --json shape).  A pending
 * request also says how many approvals it still needs ("approvals_needed"
 * and approval.needed), the same count wherever it is shown. */
json_t *record_to_json(const struct request *r);

/*
 * record_to_json(r)'s text, written into o without building the tree, with
 * what a reply adds to it (x; NULL for none): the members come in the
 * tree's order, so the text is what jsonout_dumps() makes of the tree
 * with x's members set on it the same way.  o's unsupported flag is set
 * for a string with a byte over 0x7f: the caller then builds the tree.
 */
struct record_extra {
	const char *clamped_by; /* "clamped_by" unless "" */
	bool empty_approvals;	/* "approvals": [] */
	bool duplicate;		/* "duplicate": true */
	const char *cert;	/* "cert"'s value in place of null */
	const char *cert_error; /* "cert_error" unless "" */
};
struct jsonout;
void record_put_json(
    struct jsonout *o, const struct request *r, const struct record_extra *x);

/* What capped a clamped grant, in words naming the setting:
 * "limits.break_glass_max_ttl" when break-glass's cap (bg_max) set the
 * duration, else "max_ttl of rule ID".  "" when r is not clamped. */
void record_clamped_by(
    const struct request *r, int64_t bg_max, char *buf, size_t len);

#endif
