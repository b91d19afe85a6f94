/*
 * html.h - a growing buffer for the web pages, and the one function that
 * escapes text for HTML.
 *
 * Every piece of text that did not come from this program's own string
 * literals (a reason, a user name, a resource, an error message) goes
 * through html_text(), directly or as a "%s" of html_fmt(), which escapes
 * every string argument; markup is written with html_raw() or in
 * html_fmt()'s format, which must be a literal.  So escaping is the
 * default and a raw string is the exception one can grep for ("%R").
 */
#ifndef BRK_HTML_H
#define BRK_HTML_H

#include <stdbool.h>
#include <stddef.h>

struct html {
	char *p; /* NUL-terminated */
	size_t len, cap;
	bool oom; /* an append failed: the page is incomplete */
};

/* Append markup (a literal of ours) as it is. */
void html_raw(struct html *h, const char *markup);

/* Append text escaped: & < > " ' become entities (safe in element content
 * and in quoted attribute values). NULL appends nothing. */
void html_text(struct html *h, const char *text);

/*
 * Append fmt with its conversions: %s a string escaped by html_text()
 * (NULL is ""), %R a string of ours as it is (markup), %d int, %ld long,
 * %lld long long, %zu size_t, %% a percent sign.  Anything else is a
 * programming error and appends "?".
 */
void html_fmt(struct html *h, const char *fmt, ...);

/* Free the buffer (the struct stays usable, empty); NULL is fine. */
void html_free(struct html *h);

#endif
