/*
 * test_html.c - the page buffer and the one HTML-escaping function
 * (broker/daemon/net/html.c).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "html.h"

/* Fails when a character is left out of html_text()'s table: checked by
 * dropping the '\'' case (this test went red). */
Test(html, text_escapes_every_special)
{
	struct html h = { 0 };

	html_text(&h, "<script>alert('x')</script> & \"q\"");
	cr_assert_str_eq(h.p,
	    "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
	    "&quot;q&quot;");
	html_free(&h);
	html_text(&h, NULL);
	cr_assert_eq(h.len, 0);
	html_free(&h);
}

Test(html, fmt_escapes_s_and_not_R)
{
	struct html h = { 0 };

	html_fmt(&h, "<p title=\"%s\">%s %R %d %lld %zu %ld 100%%</p>",
	    "\"><img src=x>", "<b>", "<i>", -3, 1234567890123LL, (size_t)7,
	    -9L);
	cr_assert_str_eq(h.p,
	    "<p title=\"&quot;&gt;&lt;img src=x&gt;\">&lt;b&gt; <i> -3 "
	    "1234567890123 7 -9 100%</p>");
	html_free(&h);
}

Test(html, fmt_edge_cases)
{
	struct html h = { 0 };

	html_fmt(&h, "a%s%qb", (const char *)NULL);
	cr_assert_str_eq(h.p, "a?b");
	html_free(&h);
	html_fmt(&h, "end%");
	cr_assert_str_eq(h.p, "end?");
	html_free(&h);
	html_fmt(&h, "");
	cr_assert_eq(h.len, 0);
	html_free(&h);
}

Test(html, grows)
{
	struct html h = { 0 };
	size_t i;

	for (i = 0; i < 10000; i++)
		html_text(&h, "<>");
	cr_assert_eq(h.len, 80000);
	cr_assert_eq(strlen(h.p), 80000);
	cr_assert(!h.oom);
	html_free(&h);
	html_free(NULL);
}
