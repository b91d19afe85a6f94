/*
 * certopts.c - the certificate options of several rules, combined.
 *
 * When several rules match a request, its certificate carries only what
 * every one of them allows: the extensions all of them grant, the
 * force-command any of them sets, and the source addresses all of them
 * accept.  CIDR blocks are either nested or disjoint, so the intersection
 * of two lists is the smaller block of every nested pair.  What cannot be
 * combined (two different commands, no address in common) is reported, so
 * that the decision becomes a deny instead of a guess.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

struct cidr {
	int af;
	unsigned char a[16];
	int bits;
	char text[64]; /* as written in the policy */
};

/* One item of a list ("10.0.0.0/8", "::1"); -1 when it is not valid. */
static int
parse_item(const char *s, size_t n, struct cidr *c)
{
	char item[64], *slash, *end;
	long bits;

	memset(c, 0, sizeof(*c));
	if (n == 0 || n >= sizeof(item))
		return -1;
	memcpy(c->text, s, n);
	memcpy(item, s, n);
	c->text[n] = item[n] = '\0';
	if ((slash = strchr(item, '/')) != NULL)
		*slash++ = '\0';
	c->af = strchr(item, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(c->af, item, c->a) != 1)
		return -1;
	c->bits = c->af == AF_INET ? 32 : 128;
	if (slash == NULL)
		return 0;
	if (*slash < '0' || *slash > '9')
		return -1;
	bits = strtol(slash, &end, 10);
	if (*end != '\0' || bits > c->bits)
		return -1;
	c->bits = (int)bits;
	return 0;
}

/* Walk the items of list; fn returns 0 to go on. -1 on a bad list. */
static int
each_item(const char *s, int (*fn)(const struct cidr *, void *), void *arg)
{
	struct cidr c;
	size_t n;
	int r;

	if (*s == '\0' || strlen(s) > POLICY_OPTION_MAX)
		return -1;
	for (; *s != '\0'; s += n + (s[n] == ',')) {
		n = strcspn(s, ",");
		if (s[n] == ',' && s[n + 1] == '\0')
			return -1;
		if (parse_item(s, n, &c) != 0)
			return -1;
		if ((r = fn(&c, arg)) != 0)
			return r;
	}
	return 0;
}

static int
accept_item(const struct cidr *c, void *arg)
{
	(void)c;
	(void)arg;
	return 0;
}

/* Comma-separated addresses or CIDRs, as sshd reads source-address. */
bool
pol_source_address_valid(const char *s)
{
	return each_item(s, accept_item, NULL) == 0;
}

static bool
contains(const struct cidr *outer, const struct cidr *inner)
{
	int full = outer->bits / 8, rem = outer->bits % 8;
	unsigned char mask;

	if (outer->af != inner->af || outer->bits > inner->bits)
		return false;
	if (memcmp(outer->a, inner->a, (size_t)full) != 0)
		return false;
	if (rem == 0)
		return true;
	mask = (unsigned char)(0xffu << (8 - rem));
	return (outer->a[full] & mask) == (inner->a[full] & mask);
}

struct isect {
	const char *other; /* the list to intersect with */
	struct cidr a;	   /* the item of the first list */
	char *out;
	size_t len;
	bool overflow;
};

static void
add_text(struct isect *x, const char *text)
{
	size_t used = strlen(x->out), tl = strlen(text);
	const char *p = x->out;

	for (; *p != '\0'; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ','))
		if (strcspn(p, ",") == tl && strncmp(p, text, tl) == 0)
			return; /* already there */
	if (used + tl + 2 > x->len) {
		x->overflow = true;
		return;
	}
	snprintf(x->out + used, x->len - used, "%s%s", used ? "," : "", text);
}

static int
inner_item(const struct cidr *b, void *arg)
{
	struct isect *x = arg;

	if (contains(&x->a, b))
		add_text(x, b->text);
	else if (contains(b, &x->a))
		add_text(x, x->a.text);
	return 0;
}

static int
outer_item(const struct cidr *a, void *arg)
{
	struct isect *x = arg;

	x->a = *a;
	return each_item(x->other, inner_item, x);
}

/* The addresses both lists accept, into out; -1 when there are none. */
static int
intersect(const char *l1, const char *l2, char *out, size_t len)
{
	struct isect x = { .other = l2, .out = out, .len = len };

	out[0] = '\0';
	if (each_item(l1, outer_item, &x) != 0 || x.overflow || out[0] == '\0')
		return -1;
	return 0;
}

int
pol_cert_fold(struct policy_decision *d, const struct pol_rule *r, bool first,
    char *why, size_t len)
{
	const struct policy_rule_cert *c = &r->cert;
	char buf[POLICY_OPTION_MAX + 1];

	if (first) {
		d->cert_extensions = c->extensions;
		d->force_command[0] = d->source_address[0] = '\0';
	} else
		d->cert_extensions &= c->extensions;
	if (c->force_command != NULL) {
		if (d->force_command[0] != '\0' &&
		    strcmp(d->force_command, c->force_command) != 0) {
			snprintf(why, len,
			    "the matching rules force different "
			    "commands (rule %s forces another): no certificate "
			    "can honour both",
			    r->id);
			return -1;
		}
		snprintf(d->force_command, sizeof(d->force_command), "%s",
		    c->force_command);
	}
	if (c->source_address == NULL)
		return 0;
	if (d->source_address[0] == '\0') {
		snprintf(d->source_address, sizeof(d->source_address), "%s",
		    c->source_address);
		return 0;
	}
	if (intersect(d->source_address, c->source_address, buf, sizeof(buf)) !=
	    0) {
		snprintf(why, len,
		    "the matching rules' source-address lists "
		    "have no address in common (rule %s): no certificate can "
		    "honour them all",
		    r->id);
		return -1;
	}
	memcpy(d->source_address, buf, sizeof(buf));
	return 0;
}
