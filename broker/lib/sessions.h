/*
 * sessions.h - the host's records of the login sessions pam_broker.so
 * allowed, and ending them.
 *
 * pam_sm_open_session writes one small file per session into a root-owned
 * directory (default SESS_DEFAULT_DIR): which grant allowed it, the login
 * account, the remote user, the session leader's pid with its start time
 * (/proc/PID/stat field 22) and uid, and how it is to be ended (grace,
 * keep_offline).  pam_sm_close_session removes it.  The agent ("broker
 * sessions watch") reads the directory and ends the sessions of grants that
 * ended.  Nothing here needs the broker: a record is written whether or not
 * the broker can be reached.
 *
 * Trust: a record is believed only when it is a regular file owned by root,
 * writable by nobody else, in a directory owned by root and closed to
 * others, and parses strictly; a pid is signalled only while its start time
 * and uid are those recorded (a pid reused by another process is left
 * alone), through a pidfd opened before that check, so the process checked
 * is the process signalled.
 *
 * No global state, no signal handlers; every descriptor O_CLOEXEC.
 */
#ifndef BRK_SESSIONS_H
#define BRK_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "errors.h"
#include "snapshot.h"

#define SESS_DEFAULT_DIR "/run/broker/sessions"
#define SESS_DEFAULT_GRACE 10 /* seconds between SIGHUP and SIGKILL */
#define SESS_GRACE_MAX 3600
#define SESS_RECORD_MAX 4096 /* bytes; a larger file is malformed */
#define SESS_MAX 4096	     /* records read from one directory */

struct sess_rec {
	char grant[24];	    /* "r42" */
	char account[65];   /* the login account (PAM_USER) */
	char ruser[65];	    /* PAM_RUSER, "" when none */
	char resource[256]; /* what the account check asked about */
	char tty[64];	    /* PAM_TTY, "" when none */
	pid_t pid;	    /* the session leader (the process that ran PAM) */
	uint64_t start;	    /* its start time, clock ticks since boot */
	uid_t uid;	    /* its real uid */
	int64_t opened_at;  /* seconds since the epoch */
	int grace;	    /* seconds from SIGHUP to SIGKILL */
	bool keep_offline;  /* keep it while the broker cannot confirm */
	char name[96];	    /* the file's name in the directory */
};

/*
 * Fields of /proc/PID/stat and the real uid of pid.  Any pointer may be
 * NULL.  Returns 0, BRK_ERR_NOTFOUND (no such process, or a zombie: it
 * runs nothing any more), BRK_ERR_INVALID (unparsable).
 */
int sess_proc_stat(pid_t pid, uint64_t *start, uid_t *uid, pid_t *ppid);

/*
 * Write r as dir/<pid>-<start>.json: dir is created 0700 when missing and
 * must be a root-owned (or, for tests, effective-uid-owned) directory
 * closed to others; the file is created 0600 with O_EXCL|O_NOFOLLOW, written
 * to a temporary name and renamed, so a reader never sees half a record.
 * Sets r->name.  Returns 0, BRK_ERR_PERM (unsafe directory), BRK_ERR_IO,
 * BRK_ERR_INVALID (a field does not fit), with err saying which.
 */
int
sess_record_write(const char *dir, struct sess_rec *r, struct brk_error *err);

/* Remove dir/<pid>-<start>.json; a missing file is not an error.
 * Returns 0 or BRK_ERR_IO. */
int sess_record_remove(const char *dir, pid_t pid, uint64_t start);

/* Called for each file sess_scan() ignores, with why in words. */
typedef void (*sess_bad_fn)(const char *name, const char *why, void *arg);

/*
 * Read every record in dir into *out (malloc'd array of *n; free()).
 * Files that are not root-owned regular files closed to others, are too
 * large, or do not parse are skipped and reported through bad (may be
 * NULL); so are temporary files.  A missing dir is an empty list.  Returns
 * 0, BRK_ERR_PERM (dir itself unsafe), BRK_ERR_IO, BRK_ERR_NOMEM.
 */
int sess_scan(const char *dir, struct sess_rec **out, size_t *n,
    sess_bad_fn bad, void *arg, struct brk_error *err);

/* Parse one record's text into *r (name left as is).  Returns 0 or
 * BRK_ERR_INVALID with err saying which field. */
int sess_record_parse(
    const char *text, size_t len, struct sess_rec *r, struct brk_error *err);

/* Whether r's leader is alive and still the process recorded (start time
 * and uid).  A dead leader or a different process: false. */
bool sess_alive(const struct sess_rec *r);

/* What ending one session did. */
struct sess_end {
	int processes;	   /* processes signalled */
	bool grace_needed; /* some survived SIGHUP and got SIGKILL */
	bool refused;	   /* the leader was not the recorded process */
};

/*
 * End the session of r: write msg (one line) to its terminal when r->tty
 * is a character device under /dev, then SIGHUP the leader and every
 * process below it (children first), wait up to r->grace seconds for them
 * to exit, and SIGKILL those left.  The leader is signalled only while its
 * start time and uid match r (else out->refused, nothing signalled); each
 * process below it only while its start time is the one seen when it was
 * found.  Returns 0 (see *out), or BRK_ERR_NOMEM / BRK_ERR_IO.
 */
int sess_terminate(const struct sess_rec *r, const char *msg,
    struct sess_end *out, struct brk_error *err);

/*
 * End the sessions recs[0..n) together, as sess_terminate() ends one:
 * every terminal is told and every process of every session gets SIGHUP
 * first; then each session's survivors get SIGKILL once its own grace has
 * passed.  One session ignoring SIGHUP therefore never delays another by
 * its grace.  msgs[i] (msgs may be NULL) goes to recs[i]'s terminal; outs[i]
 * says what ending recs[i] did.  Returns 0, or BRK_ERR_NOMEM / BRK_ERR_IO.
 */
int sess_terminate_all(const struct sess_rec *recs, size_t n,
    const char *const *msgs, struct sess_end *outs, struct brk_error *err);

/*
 * The host's signed offline snapshot (snapshot.h), for deciding while the
 * broker cannot be reached: read path and the CA keys (one "ssh-ed25519
 * ..." line each) from keys, both regular files owned by root (or the
 * effective uid) and writable only by their owner, and verify it for host
 * at now.  Returns 0 with *out (snapshot_free()), or an error with err
 * saying why (unsafe or missing file, bad signature, another host,
 * expired: BRK_ERR_VERIFY).
 */
int sess_snapshot_load(const char *path, const char *keys, const char *host,
    time_t now, struct snapshot **out, struct brk_error *err);

/*
 * Whether the verified snapshot s says grant ("r42") is active at now: a
 * grant with that serial, unexpired, and no unexpired block for its user
 * ("*" or the user by name).  *why says why not (static text).
 */
bool sess_snapshot_has(
    const struct snapshot *s, const char *grant, time_t now, const char **why);

#endif
