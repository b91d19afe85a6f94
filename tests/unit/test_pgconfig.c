/*
 * test_pgconfig.c - the "databases" section (cred/pgconfig.c): names that
 * could carry SQL and unsafe conninfo files are refused when the config is
 * read.  Fails when pg_ident_plain() accepts quotes, spaces, capitals or
 * a leading digit: checked by letting it accept everything (the refusals
 * below went red).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgrole.h"

Test(pgconfig, identifiers)
{
	static const char *const good[] = { "app_readonly", "_x", "a1",
		"readonly", "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc" };
	static const char *const bad[] = { "", "1a", "App", "a-b", "a b",
		"x\"; DROP ROLE postgres; --", "a'b", "a;b", "é",
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd" };
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect(pg_ident_plain(good[i]), "%s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect(!pg_ident_plain(bad[i]), "%s", bad[i]);
	cr_expect(!pg_ident_plain(NULL));
}

static char dir[] = "/tmp/pgconfig.XXXXXX";
static char file[256];

static int
parse(const char *fmt, const char *arg, struct pg_config **c,
    struct brk_error *err)
{
	char text[2048];
	const char *at = strstr(fmt, "%s");
	json_t *v;
	int r;

	/* fmt holds one %s: the conninfo file's path */
	cr_assert(at != NULL);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - fmt), fmt, arg,
	    at + 2);
	v = json_loads(text, 0, NULL);
	cr_assert(v != NULL, "%s", text);
	r = pg_config_parse(v, c, err);
	json_decref(v);
	return r;
}

static void
setup(void)
{
	FILE *f;

	cr_assert(mkdtemp(dir) != NULL);
	snprintf(file, sizeof(file), "%s/app.pg", dir);
	cr_assert((f = fopen(file, "w")) != NULL);
	fputs("host=/nowhere dbname=app\n", f);
	fclose(f);
	cr_assert(chmod(file, 0600) == 0);
}

static void
teardown(void)
{
	unlink(file);
	rmdir(dir);
}

Test(pgconfig, parse, .init = setup, .fini = teardown)
{
	struct brk_error err = { { 0 } };
	struct pg_config *c = NULL;

	cr_assert_eq(parse("{ \"app\": { \"conninfo_file\": \"%s\", \"roles\": "
	    "{ \"readonly\": \"app_readonly\" }, \"max_connections\": 3 } }",
	    file, &c, &err), 0, "%s", err.msg);
	cr_assert_eq(c->ndbs, 1);
	cr_expect_str_eq(c->dbs[0].roles[0].db_role, "app_readonly");
	cr_expect_eq(c->dbs[0].max_connections, 3);
	pg_config_free(c);
	c = NULL;

	/* every refusal leaves *out NULL and says why */
	cr_expect_neq(parse("{ \"app\": { \"conninfo_file\": \"%s\", \"roles\": "
	    "{ \"readonly\": \"x\\\"; DROP ROLE postgres; --\" } } }", file, &c,
	    &err), 0);
	cr_expect_null(c);
	cr_expect(strstr(err.msg, "plain identifiers") != NULL, "%s", err.msg);
	cr_expect_neq(parse("{ \"app\": { \"conninfo_file\": \"%s\", \"roles\": "
	    "{ \"read only\": \"app_readonly\" } } }", file, &c, &err), 0);
	cr_expect_neq(parse("{ \"Ap-p\": { \"conninfo_file\": \"%s\", \"roles\": "
	    "{ \"readonly\": \"app_readonly\" } } }", file, &c, &err), 0);
	cr_expect_neq(parse("{ \"app\": { \"conninfo_file\": \"%s\" } }", file,
	    &c, &err), 0);
	cr_expect_neq(parse("{ \"app\": { \"conninfo_file\": \"%s\", \"roles\": "
	    "{ \"readonly\": \"app_readonly\" }, \"max_connections\": 0 } }",
	    file, &c, &err), 0);
	cr_expect_neq(parse("{ \"app\": { \"conninfo_file\": \"%s\", \"roles\": "
	    "{ \"readonly\": \"app_readonly\" }, \"sql\": \"x\" } }", file, &c,
	    &err), 0);
	/* the admin secret must be private and ours */
	cr_assert(chmod(file, 0640) == 0);
	cr_expect_eq(parse("{ \"app\": { \"conninfo_file\": \"%s\", \"roles\": "
	    "{ \"readonly\": \"app_readonly\" } } }", file, &c, &err),
	    BRK_ERR_PERM, "%s", err.msg);
	cr_assert(chmod(file, 0600) == 0);
	if (geteuid() == 0) {
		cr_assert(chown(file, 65534, (gid_t)-1) == 0);
		cr_expect_eq(parse("{ \"app\": { \"conninfo_file\": \"%s\", "
		    "\"roles\": { \"readonly\": \"app_readonly\" } } }", file,
		    &c, &err), BRK_ERR_PERM, "%s", err.msg);
	}
	cr_expect_null(c);
}
