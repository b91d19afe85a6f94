/*
 * cmd_ssh.c - broker ssh [USER@]HOST [-- SSH-ARGS]: one step from "I need
 * that host" to a shell on it.
 *
 * The one idea: the grant is the request's own business (an open request
 * for the same access is answered with that request, so asking again is
 * how a grant is reused), and the certificate is this file's.  Each grant
 * gets its own Ed25519 key in $BROKER_HOME/ssh (ID, ID.pub, ID-cert.pub,
 * 0600/0644): the key lives as long as the grant's certificate, is reused
 * while that certificate is valid, and is deleted once it has expired, so
 * no key outlives the access it was made for.
 *
 * Everything said before ssh runs goes to standard error: standard output
 * belongs to the remote command (broker ssh web-1 -- cat f > f).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "sshbuf.h"

#define CERT_FILE_MAX (16 * 1024)
#define CERT_MARGIN \
	30 /* seconds: a certificate this close to its end is
			* not worth an ssh connection */

/*
 * The end (valid-before) of the Ed25519 certificate in path; -1 when it
 * is missing or not one we can read, which only means "get a new one".
 */
static int64_t
cert_valid_before(const char *path)
{
	static const char type[] = "ssh-ed25519-cert-v01@openssh.com";
	struct brk_error err = { { 0 } };
	struct sshbuf *b = NULL;
	const uint8_t *p;
	char *text = NULL, *sp;
	size_t len = 0, n;
	uint64_t serial, after, before = 0;
	uint32_t kind;
	int64_t r = -1;

	if (file_read_all(path, CERT_FILE_MAX, 0, &text, &len, &err) != 0)
		return -1;
	if (strncmp(text, type, sizeof(type) - 1) != 0 ||
	    text[sizeof(type) - 1] != ' ')
		goto out;
	sp = text + sizeof(type);
	n = strcspn(sp, " \n");
	if ((b = sshbuf_new()) == NULL ||
	    sshbuf_put_base64_decoded(b, sp, n) != 0)
		goto out;
	/* type, nonce, public key, serial, kind, key id, principals */
	if (sshbuf_get_string_direct(b, &p, &n) != 0 || n != sizeof(type) - 1 ||
	    memcmp(p, type, n) != 0 ||
	    sshbuf_get_string_direct(b, &p, &n) != 0 ||
	    sshbuf_get_string_direct(b, &p, &n) != 0 ||
	    sshbuf_get_u64(b, &serial) != 0 || sshbuf_get_u32(b, &kind) != 0 ||
	    sshbuf_get_string_direct(b, &p, &n) != 0 ||
	    sshbuf_get_string_direct(b, &p, &n) != 0 ||
	    sshbuf_get_u64(b, &after) != 0 || sshbuf_get_u64(b, &before) != 0)
		goto out;
	r = before > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)before;
out:
	sshbuf_free(b);
	free(text);
	return r;
}

/* Unlink dir/base, dir/base.pub and dir/base-cert.pub. */
static void
drop_key(const char *dir, const char *base)
{
	static const char *const ext[] = { "", ".pub", "-cert.pub" };
	char path[4096];
	size_t i;

	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s%s", dir, base, ext[i]);
		unlink(path);
	}
}

/*
 * Delete what ended grants left: a certificate past its end goes with its
 * key (ID, or ID-agent for an agent's key), and a key that never got a
 * certificate goes after a day.  So no key outlives its access.  The
 * grant in use (keep) is left alone.
 */
static void
sweep_keys(const char *dir, const char *keep)
{
	char path[4096], base[256];
	struct dirent *e;
	struct stat st;
	size_t n, kl = strlen(keep);
	DIR *dp;
	time_t now = time(NULL);
	int64_t vb;

	if ((dp = opendir(dir)) == NULL)
		return;
	/* the CLI is one thread; readdir_r is deprecated in glibc */
	// cppcheck-suppress readdirCalled
	while ((e = readdir(dp)) != NULL) {
		n = strlen(e->d_name);
		if (e->d_name[0] == '.' || n >= sizeof(base) ||
		    (strncmp(e->d_name, keep, kl) == 0 &&
			(e->d_name[kl] == '\0' || e->d_name[kl] == '.' ||
			    e->d_name[kl] == '-')))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (n > 9 && strcmp(e->d_name + n - 9, "-cert.pub") == 0) {
			vb = cert_valid_before(path);
			snprintf(base, sizeof(base), "%.*s", (int)(n - 9),
			    e->d_name);
			if (vb >= 0 && vb <= (int64_t)now)
				drop_key(dir, base);
		} else if (strpbrk(e->d_name, ".-") == NULL &&
		    lstat(path, &st) == 0 && now - st.st_mtime >= 86400) {
			snprintf(base, sizeof(base), "%s", e->d_name);
			snprintf(
			    path, sizeof(path), "%s/%s-cert.pub", dir, base);
			if (access(path, F_OK) != 0)
				drop_key(dir, base);
		}
	}
	closedir(dp);
}

/*
 * The first Ed25519 key that ssh-agent holds (ssh-add -L), written to pub
 * so that ssh -i pub picks the agent's private half.
 */
static int
agent_key(struct cli *cli, const char *pub)
{
	char *aargv[] = { "ssh-add", "-L", NULL };
	char buf[65536], *line, *save = NULL;
	size_t len = 0;
	ssize_t got;
	pid_t pid;
	int fd[2], st, r;

	fflush(NULL);
	if (pipe2(fd, O_CLOEXEC) != 0 || (pid = fork()) < 0)
		return cli_fail(cli, EX_ERROR, "exec", "cannot run ssh-add: %s",
		    strerror(errno));
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		execvp("ssh-add", aargv);
		_exit(127);
	}
	close(fd[1]);
	while (len < sizeof(buf) - 1 &&
	    ((got = read(fd[0], buf + len, sizeof(buf) - 1 - len)) > 0 ||
		(got < 0 && errno == EINTR)))
		len += got > 0 ? (size_t)got : 0;
	buf[len] = '\0';
	close(fd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "ssh-ed25519 ", 12) == 0)
			break;
	if (line == NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "ssh --agent: ssh-agent holds no Ed25519 key (ssh-add -L; "
		    "is SSH_AUTH_SOCK set?)");
	len = strlen(line);
	line[len] = '\n';
	r = cli_write_file(cli, pub, line, len + 1, 0644);
	line[len] = '\0';
	return r;
}

/* ssh-keygen -t ed25519 into key (and key.pub), its output to stderr. */
static int
make_key(struct cli *cli, const char *key, const char *comment)
{
	char *kargv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
		(char *)comment, "-f", (char *)key, NULL };
	char pub[4200];
	pid_t pid;
	int st;

	unlink(key);
	snprintf(pub, sizeof(pub), "%s.pub", key);
	unlink(pub);
	fflush(NULL);
	if ((pid = fork()) < 0)
		return cli_fail(
		    cli, EX_ERROR, "exec", "cannot fork: %s", strerror(errno));
	if (pid == 0) {
		/* stdin from nowhere: ssh-keygen never asks */
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd >= 0)
			dup2(fd, STDIN_FILENO);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp("ssh-keygen", kargv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return cli_fail(cli, EX_ERROR, "exec", "ssh-keygen: %s",
			    strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return cli_fail(cli, EX_ERROR, "exec",
		    "ssh-keygen could not make a key in %s (exit %d)", key,
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return EX_DONE;
}

/*
 * The key and certificate for the grant in res: reused while the
 * certificate is valid, else a new key (when there is none) and a new
 * certificate through the "cert" op, as broker cert would.
 */
static int
grant_cert(struct cli *cli, json_t *res, bool agent, char *key, size_t klen,
    char *cert, size_t clen)
{
	const char *id = cli_str(res, "id");
	char dir[3072], pub[4096], comment[128];
	json_t *args = NULL, *cres = NULL;
	char *text = NULL;
	int r;

	if (strchr(id, '/') != NULL || id[0] == '.' || strchr(id, '-') ||
	    strchr(id, '.') || strlen(id) > 64)
		return cli_fail(cli, EX_ERROR, "protocol",
		    "the broker sent a "
		    "strange grant id");
	if ((r = cli_home_subdir(cli, "ssh", dir, sizeof(dir))) != EX_DONE)
		return r;
	sweep_keys(dir, id);
	if (agent) {
		/* the agent's key, named by its public half: ssh -i PUB; its
		 * certificate is issued each time (the agent may hold another
		 * key by now) */
		snprintf(pub, sizeof(pub), "%s/%s-agent.pub", dir, id);
		snprintf(key, klen, "%s", pub);
		snprintf(cert, clen, "%s/%s-agent-cert.pub", dir, id);
		if ((r = agent_key(cli, pub)) != 0)
			return r;
	} else {
		snprintf(key, klen, "%s/%s", dir, id);
		snprintf(pub, sizeof(pub), "%s/%s.pub", dir, id);
		snprintf(cert, clen, "%s/%s-cert.pub", dir, id);
	}
	if (!agent && access(key, R_OK) == 0 && access(pub, R_OK) == 0 &&
	    cert_valid_before(cert) > (int64_t)time(NULL) + CERT_MARGIN)
		return EX_DONE; /* the grant's certificate, still good */
	if (!agent && (access(key, R_OK) != 0 || access(pub, R_OK) != 0)) {
		snprintf(comment, sizeof(comment), "broker-%s", id);
		if ((r = make_key(cli, key, comment)) != EX_DONE)
			return r;
	}
	if ((r = cli_read_pubkey(cli, pub, &text)) != 0)
		return r;
	args = json_pack("{s:s, s:s}", "id", id, "pubkey", text);
	free(text);
	if (args == NULL)
		return cli_fail(cli, EX_ERROR, "internal", "out of memory");
	if ((r = cli_call(cli, "cert", args, &cres)) == 0 &&
	    (r = cli_save_cert(cli, cres, pub, cert, false)) == 0 &&
	    cert_valid_before(cert) <= (int64_t)time(NULL))
		r = cli_fail(cli, EX_ERROR, "crypto",
		    "the broker sent no "
		    "usable certificate for %s",
		    id);
	json_decref(args);
	json_decref(cres);
	return r;
}

/* Print one word of a command line, quoted for sh when it needs it. */
static void
print_word(FILE *f, const char *w)
{
	const char *p;

	if (w[0] != '\0' &&
	    strspn(w,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789@%+=:,./_-") == strlen(w)) {
		cli_print_safe(f, w);
		return;
	}
	fputc('\'', f);
	for (p = w; *p != '\0'; p++) {
		if (*p == '\'')
			fputs("'\\''", f);
		else {
			char c[2] = { *p, '\0' };

			cli_print_safe(f, c);
		}
	}
	fputc('\'', f);
}

/*
 * The request (reused, or new and perhaps waited for) for host:HOST as
 * role (NULL: the requester's own name).  EX_DONE with *res active, or the
 * exit code of the request, printed.
 */
static int
get_grant(struct cli *cli, const char *resource, const char *role, int64_t secs,
    const char *reason, int64_t tmo, json_t **res)
{
	json_t *args;
	bool waited;
	int r;

	*res = NULL;
	args = json_pack("{s:s, s:s?, s:s?}", "resource", resource, "role",
	    role, "reason", reason);
	if (args == NULL)
		return cli_fail(cli, EX_ERROR, "internal", "out of memory");
	if (secs > 0)
		json_object_set_new(args, "for", json_integer(secs));
	r = cli_call(cli, "request", args, res);
	json_decref(args);
	if (r != 0)
		return r;
	if (!cli->json)
		cli_print_request(cli, *res);
	if ((waited = cli_state_exit(*res) == EX_PENDING) &&
	    (r = cli_wait_decision(cli, res, tmo)) != 0) {
		if (r == EX_PENDING && cli->json)
			cli_print_json(*res);
		return r;
	}
	fflush(stdout); /* our stdout is stderr here: keep the order */
	if ((r = cli_state_exit(*res)) == EX_DONE &&
	    strcmp(cli_str(*res, "state"), "active") != 0)
		r = cli_fail(cli, EX_PENDING, "state",
		    "%s is scheduled: no login before %s", cli_str(*res, "id"),
		    cli_str(*res, "starts_at"));
	else if (r != EX_DONE) {
		if (cli->json)
			cli_print_json(*res);
		else if (waited)
			cli_print_request(cli, *res); /* how it ended */
		fflush(stdout);
		r = cli_fail(cli, r, r == EX_REFUSED ? "denied" : "state",
		    "%s: %s (%s): no ssh", resource, cli_str(*res, "state"),
		    cli_str(*res, "decision"));
	}
	return r;
}

int
cmd_ssh(struct cli *cli, int argc, char **argv)
{
	const char *dest = NULL, *dur = NULL, *reason = NULL, *timeout = NULL;
	bool dry = false, agent = false;
	const struct cli_opt opts[] = {
		{ "for", &dur, NULL },
		{ "reason", &reason, NULL },
		{ "timeout", &timeout, NULL },
		{ "dry-run", NULL, &dry },
		{ "agent", NULL, &agent },
		{ NULL, NULL, NULL },
	};
	char resource[300], user[128], host[256], key[4096], cert[4096];
	char keyopt[4200], certopt[4200], target[400];
	const char *at, *role = NULL;
	json_t *res = NULL, *out = NULL, *words;
	char **sargv = NULL;
	int64_t secs = 0, tmo = 0;
	int i, n, r, dash = argc, saved = -1;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dash = i;
			break;
		}
	if ((r = cli_parse(cli, cli_cmd("ssh"), dash, argv, opts, &dest, 1)) !=
	    0)
		return r;
	if (dur != NULL && (r = cli_duration(cli, "--for", dur, &secs)) != 0)
		return r;
	if (timeout != NULL &&
	    (r = cli_duration(cli, "--timeout", timeout, &tmo)) != 0)
		return r;
	user[0] = '\0';
	if ((at = strrchr(dest, '@')) != NULL) {
		if (at == dest || (size_t)(at - dest) >= sizeof(user))
			return cli_fail(cli, EX_USAGE, "usage",
			    "ssh: \"%s\" "
			    "is not USER@HOST",
			    dest);
		snprintf(user, sizeof(user), "%.*s", (int)(at - dest), dest);
		role = user;
		dest = at + 1;
	}
	/* the host name becomes a resource and an ssh argument: no option
	 * look-alikes, no blanks, nothing ssh would read as a path */
	if (dest[0] == '\0' || dest[0] == '-' || strlen(dest) >= sizeof(host) ||
	    strpbrk(dest, " \t\r\n/@") != NULL)
		return cli_fail(cli, EX_USAGE, "usage",
		    "ssh: \"%s\" is not a "
		    "host name",
		    dest);
	if (role != NULL &&
	    (role[0] == '-' || strpbrk(role, " \t\r\n/") != NULL))
		return cli_fail(cli, EX_USAGE, "usage",
		    "ssh: \"%s\" is not a "
		    "user name",
		    role);
	snprintf(host, sizeof(host), "%s", dest);
	snprintf(resource, sizeof(resource), "host:%s", host);

	/* until ssh runs, what we say goes to standard error */
	fflush(stdout);
	if ((saved = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)) < 0 ||
	    dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		r = cli_fail(cli, EX_ERROR, "io", "cannot redirect: %s",
		    strerror(errno));
		goto out;
	}
	if ((r = get_grant(cli, resource, role, secs, reason, tmo, &res)) != 0)
		goto out;
	if ((r = grant_cert(cli, res, agent, key, sizeof(key), cert,
		 sizeof(cert))) != EX_DONE)
		goto out;
	snprintf(keyopt, sizeof(keyopt), "%s", key);
	snprintf(certopt, sizeof(certopt), "CertificateFile=%s", cert);
	snprintf(target, sizeof(target), "%s@%s", cli_str(res, "role"), host);
	n = dash < argc ? argc - dash - 1 : 0;
	if ((sargv = calloc((size_t)n + 9, sizeof(*sargv))) == NULL) {
		r = cli_fail(cli, EX_ERROR, "internal", "out of memory");
		goto out;
	}
	i = 0;
	sargv[i++] = (char *)"ssh";
	sargv[i++] = (char *)"-i";
	sargv[i++] = keyopt;
	sargv[i++] = (char *)"-o";
	sargv[i++] = certopt;
	sargv[i++] = (char *)"-o";
	sargv[i++] = (char *)"IdentitiesOnly=yes";
	sargv[i++] = target;
	for (n = dash + 1; n < argc; n++)
		sargv[i++] = argv[n];
	fflush(stdout);
	if (dup2(saved, STDOUT_FILENO) < 0) {
		r = cli_fail(
		    cli, EX_ERROR, "io", "cannot restore: %s", strerror(errno));
		goto out;
	}
	if (dry && cli->json) {
		words = json_array();
		for (n = 0; n < i; n++)
			json_array_append_new(words, json_string(sargv[n]));
		out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id",
		    cli_str(res, "id"), "role", cli_str(res, "role"),
		    "expires_at", cli_str(res, "expires_at"), "key", key,
		    "cert_file", cert, "argv", words);
		cli_print_json(out);
		r = EX_DONE;
		goto out;
	}
	if (dry) {
		for (n = 0; n < i; n++) {
			if (n > 0)
				fputc(' ', stdout);
			print_word(stdout, sargv[n]);
		}
		fputc('\n', stdout);
		r = EX_DONE;
		goto out;
	}
	fflush(NULL);
	execvp("ssh", sargv);
	r = cli_fail(
	    cli, EX_ERROR, "exec", "cannot run ssh: %s", strerror(errno));
out:
	if (saved >= 0) {
		fflush(stdout);
		dup2(saved, STDOUT_FILENO);
		close(saved);
	}
	free(sargv);
	json_decref(res);
	json_decref(out);
	return r;
}
