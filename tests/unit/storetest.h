/*
 * storetest.h - a fresh store in a temporary directory around each test of
 * a suite: STORE_TEST_SUITE(name) opens it as st (16 MiB map) in dir and
 * removes both afterwards.  Shared by the unit tests that work on a store.
 *
 * With BROKER_TEST_PG_CONNINFO=FILE (tests/integration/t_pgstore.sh) the
 * same tests run on the PostgreSQL backend instead: st is then that
 * database (migrated), emptied before each test.  STORETEST_LMDB_ONLY()
 * skips a test of what only LMDB has (a map size, lazy meta sync).
 */
#ifndef BRK_STORETEST_H
#define BRK_STORETEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "store.h"

static char dir[64];
static struct store *st;

#define STORETEST_LMDB_ONLY()                                         \
	do {                                                          \
		if (getenv("BROKER_TEST_PG_CONNINFO") != NULL)        \
			cr_skip_test("a property of the LMDB backend"); \
	} while (0)

/* Delete every key of every table, through the store itself. */
static void
storetest_empty(void)
{
	struct store_cursor *c;
	struct store_txn *t;
	struct store_val k;
	uint8_t key[512];
	size_t len;
	int tbl;

	cr_assert_eq(store_begin(st, true, &t), 0);
	for (tbl = 0; tbl < TBL__COUNT; tbl++) {
		cr_assert_eq(store_cursor_open(t, (enum store_table)tbl, &c), 0);
		while (store_cursor_first(c, &k, NULL) == 0) {
			cr_assert_leq(k.len, sizeof(key));
			len = k.len;
			memcpy(key, k.data, len);
			cr_assert_eq(store_del(t, (enum store_table)tbl, key, len),
			    0);
		}
		store_cursor_close(c);
	}
	cr_assert_eq(store_commit(t), 0);
}

static void
storetest_setup(void)
{
	struct brk_error err;
	const char *pg = getenv("BROKER_TEST_PG_CONNINFO");

	snprintf(dir, sizeof(dir), "/tmp/brokerstore.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	if (pg != NULL) {
		cr_assert_eq(store_open_pg(pg, 5000, &st, &err), 0, "%s",
		    err.msg);
		storetest_empty();
		return;
	}
	cr_assert_eq(store_open(dir, 1 << 24, &st, &err), 0, "%s", err.msg);
}

static void
storetest_teardown(void)
{
	char cmd[128];

	store_free(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

#define STORE_TEST_SUITE(name)						\
	TestSuite(name, .init = storetest_setup, .fini = storetest_teardown)

#endif
