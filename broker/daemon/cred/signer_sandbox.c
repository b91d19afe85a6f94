/*
 * signer_sandbox.c - confine the CA signer: no descriptors but its channel
 * and stderr, no new privileges, no core dumps or ptrace by its own uid,
 * and a seccomp filter that leaves it only what signing needs.
 *
 * The filter is written by hand (linux/seccomp.h, linux/filter.h) so that
 * it needs no library: it checks the architecture, then allows a short list
 * of system calls by number.  mmap and mprotect are allowed only without
 * PROT_EXEC, so that code the signer could be tricked into writing never
 * runs.  open, openat and socket fail with EACCES rather than killing, so
 * that a library probing for a file (or a log line wanting syslog) fails
 * softly; everything else kills the whole process with SIGSYS, which the
 * daemon sees and treats as the signer's loss (fail closed).
 *
 * It is installed with prctl(PR_SET_SECCOMP), not seccomp(2): the systemd
 * unit's SystemCallFilter=@system-service allows prctl but not seccomp.
 */
#include "signer.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#if defined(__x86_64__)
#define SANDBOX_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define SANDBOX_ARCH AUDIT_ARCH_I386
#endif

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS SECCOMP_RET_KILL
#endif

#define LD_NR \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define ALLOW(nr)                                        \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define DENY(nr, e)                                      \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	    BPF_STMT(                                    \
		BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((e)&SECCOMP_RET_DATA))
/* Allow nr when the low word of argument 2 (prot) has no PROT_EXEC. */
#define ALLOW_NOEXEC(nr)                                           \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 4),           \
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,                     \
		offsetof(struct seccomp_data, args[2])),           \
	    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 1, 0), \
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),          \
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)

/* Close descriptors lo..hi (hi may be ~0u: all the rest). */
static void
close_span(unsigned lo, unsigned hi)
{
	long max = sysconf(_SC_OPEN_MAX);
	unsigned fd;

	if (lo > hi)
		return;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, lo, hi, 0u) == 0)
		return;
#endif
	if (max < 0 || max > 1 << 20)
		max = 1 << 20;
	for (fd = lo; fd <= hi && fd < (unsigned)max; fd++)
		close((int)fd);
}

/* Close every descriptor but keep_fd and stderr. */
static void
close_others(int keep_fd)
{
	unsigned a = STDERR_FILENO, b = (unsigned)keep_fd;

	if (b < a) {
		a = b;
		b = STDERR_FILENO;
	}
	if (a > 0)
		close_span(0, a - 1);
	close_span(a + 1, b - 1);
	close_span(b + 1, ~0u);
}

int
signer_sandbox(int keep_fd)
{
#ifdef BROKER_PROFILE_NO_SANDBOX
#pragma message( \
    "BROKER_PROFILE_NO_SANDBOX: the CA signer has no seccomp filter")
	/* Only tests/bench/callgrind.sh builds this (build/prof): valgrind
	 * itself makes system calls the filter kills, so the signer's
	 * instructions could not be counted.  Never in a shipped build. */
	(void)keep_fd;
	(void)close_others;
	return 0;
#endif
#ifdef SANDBOX_ARCH
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		LD_NR,
#if defined(__x86_64__) && defined(__X32_SYSCALL_BIT)
		/* x32 system calls share the arch value: refuse them */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
		ALLOW(__NR_read),
		ALLOW(__NR_write),
		ALLOW(__NR_readv),
		ALLOW(__NR_writev),
		ALLOW(__NR_sendto), /* send(MSG_NOSIGNAL) */
#ifdef __NR_poll
		ALLOW(__NR_poll),
#endif
		ALLOW(__NR_ppoll),
		ALLOW(__NR_close),
		ALLOW(__NR_exit),
		ALLOW(__NR_exit_group),
		ALLOW(__NR_rt_sigreturn),
		ALLOW(__NR_brk),
		ALLOW(__NR_munmap),
		ALLOW(__NR_mremap),
		ALLOW(__NR_madvise),
		ALLOW(__NR_futex),
		ALLOW(__NR_getrandom),
		ALLOW(__NR_clock_gettime),
		ALLOW(__NR_gettimeofday),
		ALLOW(__NR_getpid),
		ALLOW(__NR_gettid),
#ifdef __NR_open
		DENY(__NR_open, EACCES),
#endif
		DENY(__NR_openat, EACCES),
		DENY(__NR_socket, EACCES),
		ALLOW_NOEXEC(__NR_mmap),
		LD_NR,
		ALLOW_NOEXEC(__NR_mprotect),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(filter) / sizeof(filter[0])),
		.filter = filter,
	};

	if (keep_fd < 0)
		return -EBADF;
	close_others(keep_fd);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
		return -errno;
	return 0;
#else
	(void)keep_fd;
	(void)close_others;
	return BRK_ERR_UNSUPPORTED;
#endif
}
