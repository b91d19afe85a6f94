/*
 * signer.c - the CA signer process and the daemon's channel to it.
 *
 * The one idea: one socketpair, one batch of requests in flight, a mutex
 * around each batch and its replies.  The signer is single-threaded and
 * Ed25519 takes tens of microseconds, so a queue of waiting threads in
 * front of one channel costs little next to the signing itself: one signer
 * signs about 25,000 bodies a second, more than issuance needs (SECURITY.md
 * has the figures), and a pool of channels to one process would not sign
 * faster.  What does cost is the round trip: two wake-ups and four system
 * calls, a third of a signature's time again, so issuance sends the
 * certificates of a commit's batch together (signer_sign_many()).
 *
 * Losing the signer is fatal to signing, never to safety: a thread that
 * finds the channel broken (EOF, an error, no answer in SIGNER_TIMEOUT_MS)
 * marks it dead, and every later request fails at once with
 * BRK_ERR_UNREACHABLE.  A watcher thread waits for the child with
 * waitpid(); when the child exits while the daemon still needs it, the
 * watcher logs the loss and calls the daemon's `lost` callback (brokerd
 * stops, exits non-zero, and systemd's Restart=on-failure starts a fresh
 * daemon and signer).  The signer is not restarted in place: the daemon is
 * threaded by then, and forking a threaded process that then runs OpenSSL
 * is not safe.
 */
#include "signer.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "log.h"

#define ERRTEXT_MAX 512

struct signer {
	int fd; /* the daemon's end; guarded by lock */
	pid_t pid;
	pthread_mutex_t lock; /* one request/response at a time */
	atomic_int dead;      /* channel broken or child gone */
	atomic_int closing;   /* signer_free() began */
	pthread_t watcher;
	int watching;
	void (*lost)(void *);
	void *arg;
};

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
peek_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Write all of buf; 0, or -1 (errno set) when the peer is gone. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Read exactly len bytes; 0, 1 on EOF before the first byte (a clean close
 * between messages), -1 otherwise.  timeout_ms < 0 waits forever.
 */
static int
read_all(int fd, void *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t *p = buf;
	size_t got = 0;
	ssize_t n;
	int pr;

	while (got < len) {
		if (timeout_ms >= 0) {
			if ((pr = poll(&pfd, 1, timeout_ms)) < 0 &&
			    errno == EINTR)
				continue;
			if (pr <= 0) {
				errno = pr == 0 ? ETIMEDOUT : errno;
				return -1;
			}
		}
		if ((n = read(fd, p + got, len - got)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EPIPE;
			return got == 0 ? 1 : -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* --- the child ---------------------------------------------------------- */

/* Tell the daemon why the signer cannot start, then leave. */
static void __attribute__((noreturn)) child_fail(int fd, int r, const char *msg)
{
	uint8_t hdr[8];
	size_t len = strnlen(msg, ERRTEXT_MAX);

	put_u32(hdr, (uint32_t)r);
	put_u32(hdr + 4, (uint32_t)len);
	if (write_all(fd, hdr, sizeof(hdr)) == 0)
		(void)write_all(fd, msg, len);
	_exit(1);
}

static int
child_hello(int fd, const struct ca *ca)
{
	uint8_t buf[8 + SIGNER_MAX_KEYS * SIGNER_BLOB_LEN];
	const uint8_t *blob;
	size_t i, n = 0, bl;
	const char *const *lines;

	put_u32(buf, 0);
	for (i = 0; i < ca_all_public_lines(ca, &lines) && i < SIGNER_MAX_KEYS;
	     i++) {
		if ((blob = ca_public_blob(ca, i, &bl)) == NULL ||
		    bl != SIGNER_BLOB_LEN)
			return BRK_ERR_INTERNAL;
		memcpy(buf + 8 + n * SIGNER_BLOB_LEN, blob, bl);
		n++;
	}
	put_u32(buf + 4, (uint32_t)n);
	return write_all(fd, buf, 8 + n * SIGNER_BLOB_LEN) == 0 ? 0 :
								  BRK_ERR_IO;
}

/*
 * Answer requests until the daemon closes its end.  The daemon may send
 * several requests in one write (signer_sign_many()): every complete one
 * in what was read is checked and signed on its own, in order, and their
 * replies go back in one write, so a batch costs one wake-up each way.
 * A frame's length is checked before anything else: a zero or oversized
 * length means the stream cannot be resynchronised, and the signer exits.
 */
static int
child_serve(int fd, const struct ca *ca)
{
	static const char *const kinds[] = { "none", "certificate", "snapshot",
		"anchor" };
	uint8_t *reply = NULL, *buf = NULL, *rp;
	const uint8_t *cablob;
	enum signer_kind kind;
	const char *why;
	size_t len, calen, got = 0, off, nrep;
	ssize_t n;
	int r = 0, sr;

	cablob = ca_public_blob(ca, 0, &calen);
	if ((buf = malloc(4 + SIGNER_MSG_MAX)) == NULL ||
	    (reply = malloc(SIGNER_BATCH_MAX * SIGNER_REPLY_LEN)) == NULL) {
		r = BRK_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		n = read(fd, buf + got, 4 + SIGNER_MSG_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* 0 before a byte: the daemon is done */
			r = n == 0 && got == 0 ? 0 : BRK_ERR_IO;
			break;
		}
		got += (size_t)n;
		/* every complete frame, in order; replies in one write per
		 * SIGNER_BATCH_MAX (the daemon never sends more at once) */
		for (off = 0, nrep = 0; got - off >= 4; off += 4 + len) {
			len = peek_u32(buf + off);
			if (len == 0 || len > SIGNER_MSG_MAX) {
				log_error("event=signer_refused reason=\"a "
					  "malformed request\" action=exit");
				r = BRK_ERR_PROTOCOL;
				goto out;
			}
			if (got - off - 4 < len)
				break; /* the rest of it is still to come */
			rp = reply + nrep * SIGNER_REPLY_LEN;
			memset(rp, 0, SIGNER_REPLY_LEN);
			sr = signer_check(buf + off + 4, len, cablob, calen,
			    (int64_t)time(NULL), &kind, &why);
			if (sr != 0)
				log_error("event=signer_refused bytes=%zu "
					  "reason=\"%s\"",
				    len, why);
			else if ((sr = ca_sign(
				      ca, buf + off + 4, len, rp + 4)) != 0)
				log_error("event=signer_failed kind=%s "
					  "error=\"%s\"",
				    kinds[kind], brk_strerror(sr));
			put_u32(rp, (uint32_t)sr);
			if (++nrep == SIGNER_BATCH_MAX) {
				if (write_all(fd, reply,
					nrep * SIGNER_REPLY_LEN) != 0) {
					r = BRK_ERR_IO;
					goto out;
				}
				nrep = 0;
			}
		}
		if (nrep > 0 &&
		    write_all(fd, reply, nrep * SIGNER_REPLY_LEN) != 0) {
			r = BRK_ERR_IO;
			goto out;
		}
		/* keep the start of an incomplete frame at the front */
		memmove(buf, buf + off, got - off);
		got -= off;
	}
out:
	free(reply);
	free(buf);
	return r;
}

static void __attribute__((noreturn)) child_main(int fd, const char *state_dir)
{
	struct brk_error err = { "" };
	struct ca *ca = NULL;
	uint8_t sig[CA_SIG_SIZE];
	int r;

	/* A daemon stop (SIGTERM to the whole unit, ^C to the process group)
	 * must not kill the signer before the daemon: it leaves when the
	 * daemon closes the channel, or when the daemon dies. */
	/* stderr (the journal under systemd): the sandbox closes syslog's
	 * socket and refuses a new one.  Info level: the signer says little,
	 * and what it says (a refusal) matters whatever brokerd's level. */
	log_setup(LOG_LVL_INFO, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	(void)prctl(PR_SET_NAME, "brokerd-signer", 0, 0, 0);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if ((r = ca_open(state_dir, &ca, &err)) != 0)
		child_fail(fd, r, err.msg[0] ? err.msg : brk_strerror(r));
	/* Sign once before the sandbox, so that OpenSSL has loaded and
	 * initialised whatever it loads lazily. */
	if ((r = ca_sign(ca, (const uint8_t *)"warm-up", 7, sig)) != 0)
		child_fail(fd, r, "the CA key cannot sign");
	if ((r = signer_sandbox(fd)) != 0) {
		brk_error_set(&err, r, "cannot sandbox the CA signer: %s",
		    brk_strerror(r));
		child_fail(
		    fd, r == BRK_ERR_UNSUPPORTED ? r : BRK_ERR_PERM, err.msg);
	}
	if ((r = child_hello(fd, ca)) != 0)
		_exit(1);
	log_info("event=signer_ready pid=%ld key_id=%s", (long)getpid(),
	    ca_key_id(ca));
	r = child_serve(fd, ca);
	ca_free(ca);
	_exit(r == 0 ? 0 : 1);
}

/* --- the daemon's side -------------------------------------------------- */

/* Mark the channel dead; the first to do so while not closing logs it.
 * The watcher reports the process's end itself, with its status. */
static void
mark_dead(struct signer *s, const char *why)
{
	if (atomic_exchange(&s->dead, 1) == 0 && !atomic_load(&s->closing))
		log_error(
		    "event=signer_channel_broken pid=%ld reason=\"%s\" "
		    "effect=\"certificates, snapshots and anchors are refused\"",
		    (long)s->pid, why);
}

static void *
watch(void *arg)
{
	struct signer *s = arg;
	char why[128];
	int status = 0;

	while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
		;
	atomic_store(&s->dead, 1);
	if (atomic_load(&s->closing))
		return NULL;
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "was killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(why, sizeof(why), "exited with status %d",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	log_error("event=signer_lost pid=%ld reason=\"the signer %s\" "
		  "effect=\"certificates, snapshots and anchors are refused\"",
	    (long)s->pid, why);
	if (s->lost != NULL)
		s->lost(s->arg);
	return NULL;
}

/* Read the hello: the keys' blobs, or the child's error. */
static int
read_hello(struct signer *s, uint8_t blobs[SIGNER_MAX_KEYS][SIGNER_BLOB_LEN],
    size_t *nkeys, struct brk_error *err)
{
	char text[ERRTEXT_MAX + 1];
	uint8_t hdr[8];
	uint32_t status, n;

	/* ca_open() may create a key and sync files first: no short timeout */
	if (read_all(s->fd, hdr, sizeof(hdr), 60000) != 0)
		return brk_error_set(err, BRK_ERR_PROTOCOL,
		    "the CA signer "
		    "process exited before it was ready");
	status = peek_u32(hdr);
	n = peek_u32(hdr + 4);
	if (status != 0) {
		if (n > ERRTEXT_MAX ||
		    read_all(s->fd, text, n, SIGNER_TIMEOUT_MS) != 0)
			return brk_error_set(err, BRK_ERR_PROTOCOL,
			    "the CA "
			    "signer failed to start");
		text[n] = '\0';
		return brk_error_set(err, (int)status, "%s", text);
	}
	if (n == 0 || n > SIGNER_MAX_KEYS ||
	    read_all(s->fd, blobs, n * SIGNER_BLOB_LEN, SIGNER_TIMEOUT_MS) != 0)
		return brk_error_set(err, BRK_ERR_PROTOCOL,
		    "the CA signer "
		    "sent a malformed hello");
	*nkeys = n;
	return 0;
}

int
signer_start(const char *state_dir, void (*lost)(void *), void *arg,
    struct signer **out, uint8_t blobs[SIGNER_MAX_KEYS][SIGNER_BLOB_LEN],
    size_t *nkeys, struct brk_error *err)
{
	struct signer *s = NULL;
	int sv[2] = { -1, -1 }, r = BRK_ERR_INTERNAL;

	*out = NULL;
	*nkeys = 0;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
	s->fd = -1;
	s->lost = lost;
	s->arg = arg;
	pthread_mutex_init(&s->lock, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		r = brk_error_set(
		    err, -errno, "socketpair: %s", strerror(errno));
		goto out;
	}
	if ((s->pid = fork()) < 0) {
		r = brk_error_set(err, -errno, "fork: %s", strerror(errno));
		goto out;
	}
	if (s->pid == 0) {
		close(sv[0]);
		child_main(sv[1], state_dir);
	}
	close(sv[1]);
	sv[1] = -1;
	s->fd = sv[0];
	sv[0] = -1;
	if ((r = read_hello(s, blobs, nkeys, err)) != 0)
		goto out;
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO,
		&(struct timeval){ .tv_sec = SIGNER_TIMEOUT_MS / 1000 },
		sizeof(struct timeval)) != 0) {
		r = brk_error_set(
		    err, -errno, "SO_RCVTIMEO: %s", strerror(errno));
		goto out;
	}
	if ((r = pthread_create(&s->watcher, NULL, watch, s)) != 0) {
		r = brk_error_set(err, -r, "cannot start the signer watcher");
		goto out;
	}
	s->watching = 1;
	*out = s;
	s = NULL;
	r = 0;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	signer_free(s);
	return r;
}

int
signer_sign_many(struct signer *s, size_t n, const uint8_t *const *msgs,
    const size_t *lens, uint8_t (*sigs)[CA_SIG_SIZE], int *rcs)
{
	uint8_t hdr[SIGNER_BATCH_MAX][4],
	    reply[SIGNER_BATCH_MAX * SIGNER_REPLY_LEN];
	struct iovec iov[2 * SIGNER_BATCH_MAX];
	struct msghdr mh = { .msg_iov = iov };
	size_t i, left, skip;
	ssize_t w;
	int r = BRK_ERR_UNREACHABLE, timedout;

	if (s == NULL || msgs == NULL || lens == NULL || sigs == NULL ||
	    rcs == NULL || n == 0 || n > SIGNER_BATCH_MAX)
		return BRK_ERR_INVALID;
	for (i = 0; i < n; i++) {
		rcs[i] = BRK_ERR_UNREACHABLE;
		if (msgs[i] == NULL || lens[i] == 0 || lens[i] > SIGNER_MSG_MAX)
			return BRK_ERR_INVALID;
	}
	if (atomic_load(&s->dead))
		return BRK_ERR_UNREACHABLE;
	for (i = 0, left = 0; i < n; i++) {
		put_u32(hdr[i], (uint32_t)lens[i]);
		iov[2 * i] = (struct iovec){ hdr[i], 4 };
		iov[2 * i + 1] = (struct iovec){ (void *)(uintptr_t)msgs[i],
			lens[i] };
		left += 4 + lens[i];
	}
	pthread_mutex_lock(&s->lock);
	if (atomic_load(&s->dead))
		goto out;
	/* every request in one sendmsg: one wake-up of the signer */
	mh.msg_iovlen = 2 * n;
	while (left > 0) {
		if ((w = sendmsg(s->fd, &mh, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			mark_dead(s, strerror(errno));
			goto out;
		}
		left -= (size_t)w;
		/* a short send: step past what went out */
		for (skip = (size_t)w; skip > 0 && mh.msg_iovlen > 0;) {
			if (skip < mh.msg_iov[0].iov_len) {
				mh.msg_iov[0].iov_base =
				    (uint8_t *)mh.msg_iov[0].iov_base + skip;
				mh.msg_iov[0].iov_len -= skip;
				skip = 0;
			} else {
				skip -= mh.msg_iov[0].iov_len;
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	/* SO_RCVTIMEO bounds the wait, with one system call per read */
	if (read_all(s->fd, reply, n * SIGNER_REPLY_LEN, -1) != 0) {
		timedout = errno == EAGAIN || errno == EWOULDBLOCK;
		mark_dead(
		    s, timedout ? "no answer in time" : "the channel closed");
		/* a signer that hangs is as good as gone: make it so, and
		 * let the watcher report it */
		if (timedout)
			kill(s->pid, SIGKILL);
		goto out;
	}
	for (i = 0; i < n; i++) {
		rcs[i] = (int32_t)peek_u32(reply + i * SIGNER_REPLY_LEN);
		if (rcs[i] == 0)
			memcpy(sigs[i], reply + i * SIGNER_REPLY_LEN + 4,
			    CA_SIG_SIZE);
		else if (rcs[i] != BRK_ERR_DENIED && rcs[i] != BRK_ERR_CRYPTO &&
		    rcs[i] != BRK_ERR_NOMEM)
			rcs[i] = BRK_ERR_PROTOCOL;
	}
	r = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int
signer_sign(struct signer *s, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	uint8_t one[1][CA_SIG_SIZE];
	int r, rc;

	if (s == NULL || msg == NULL || sig == NULL || len == 0 ||
	    len > SIGNER_MSG_MAX)
		return BRK_ERR_INVALID;
	if ((r = signer_sign_many(s, 1, &msg, &len, one, &rc)) != 0)
		return r;
	if (rc == 0)
		memcpy(sig, one[0], CA_SIG_SIZE);
	return rc;
}

pid_t
signer_pid(const struct signer *s)
{
	return s == NULL ? 0 : s->pid;
}

void
signer_free(struct signer *s)
{
	int status;

	if (s == NULL)
		return;
	atomic_store(&s->closing, 1);
	if (s->fd >= 0)
		shutdown(s->fd, SHUT_RDWR); /* the signer reads EOF, exits */
	if (s->watching)
		pthread_join(s->watcher, NULL); /* it reaps the child */
	else if (s->pid > 0) {
		kill(s->pid, SIGKILL); /* it failed to start: no waiting */
		while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
