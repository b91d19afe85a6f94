/*
 * escalate.h - what opt-outs and monitoring flags do to a decision.
 *
 * Any opt-out or flag that covers a request turns an automatic grant into
 * one for people to approve (manual / review) or into a denial (block);
 * several combine to the strictest.  Blocks also refuse logins on grants
 * that are already active.
 */
#ifndef BRK_ESCALATE_H
#define BRK_ESCALATE_H

#include "optouts.h"

enum esc_level {
	ESC_NONE,
	ESC_MANUAL,
	ESC_BLOCK
};

#define ESC_MAX_IDS 16

struct escalation {
	enum esc_level level;
	/* which kinds of manual cause were found (break-glass treats them
	 * differently: ops_request.c) */
	bool flag_review;	   /* a review flag on the user */
	bool freeze_manual;	   /* a freeze in manual mode */
	bool optout_manual;	   /* any other manual opt-out */
	uint64_t ids[ESC_MAX_IDS]; /* opt-outs that applied */
	size_t nids;
	char why[1024]; /* the strictest cause, in words */
};

/* Find every opt-out in force and the user's flag that cover cv. */
int escalate_find(struct store_txn *t, const struct cover *cv, int64_t now,
    struct escalation *out);

/* "o3,o7" */
void escalate_ids(const struct escalation *e, char *buf, size_t len);

#endif
