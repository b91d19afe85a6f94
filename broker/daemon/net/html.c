/*
 * html.c - page buffer and HTML escaping (see html.h).
 */
#include "html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
put(struct html *h, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (h->oom)
		return;
	if (h->len + n + 1 > h->cap) {
		cap = h->cap ? h->cap : 1024;
		while (cap < h->len + n + 1)
			cap *= 2;
		if ((p = realloc(h->p, cap)) == NULL) {
			h->oom = true;
			return;
		}
		h->p = p;
		h->cap = cap;
	}
	memcpy(h->p + h->len, s, n);
	h->len += n;
	h->p[h->len] = '\0';
}

void
html_raw(struct html *h, const char *markup)
{
	put(h, markup, strlen(markup));
}

void
html_text(struct html *h, const char *text)
{
	const char *s, *run;
	const char *ent;

	if (text == NULL)
		return;
	for (run = s = text; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		default:
			continue;
		}
		put(h, run, (size_t)(s - run));
		put(h, ent, strlen(ent));
		run = s + 1;
	}
	put(h, run, (size_t)(s - run));
}

void
html_fmt(struct html *h, const char *fmt, ...)
{
	const char *f, *run;
	char num[32];
	va_list ap;

	va_start(ap, fmt);
	for (run = f = fmt; *f != '\0'; f++) {
		if (*f != '%')
			continue;
		put(h, run, (size_t)(f - run));
		f++;
		if (*f == 's')
			html_text(h, va_arg(ap, const char *));
		else if (*f == 'R') {
			const char *m = va_arg(ap, const char *);
			html_raw(h, m != NULL ? m : "");
		} else if (*f == 'd') {
			snprintf(num, sizeof(num), "%d", va_arg(ap, int));
			html_raw(h, num);
		} else if (f[0] == 'l' && f[1] == 'd') {
			snprintf(num, sizeof(num), "%ld", va_arg(ap, long));
			html_raw(h, num);
			f++;
		} else if (f[0] == 'l' && f[1] == 'l' && f[2] == 'd') {
			snprintf(
			    num, sizeof(num), "%lld", va_arg(ap, long long));
			html_raw(h, num);
			f += 2;
		} else if (f[0] == 'z' && f[1] == 'u') {
			snprintf(num, sizeof(num), "%zu", va_arg(ap, size_t));
			html_raw(h, num);
			f++;
		} else if (*f == '%')
			put(h, "%", 1);
		else {
			put(h, "?", 1);
			if (*f == '\0') {
				run = f;
				break;
			}
		}
		run = f + 1;
	}
	put(h, run, (size_t)(f - run));
	va_end(ap);
}

void
html_free(struct html *h)
{
	if (h == NULL)
		return;
	free(h->p);
	h->p = NULL;
	h->len = h->cap = 0;
	h->oom = false;
}
