/*
 * storetest.h - a fresh store in a temporary directory around each test of
 * a suite: STORE_TEST_SUITE(name) opens it as st (16 MiB map) in dir and
 * removes both afterwards.  Shared by the unit tests that work on a store.
 */
#ifndef BRK_STORETEST_H
#define BRK_STORETEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "errors.h"
#include "store.h"

static char dir[64];
static struct store *st;

static void
storetest_setup(void)
{
	struct brk_error err;

	snprintf(dir, sizeof(dir), "/tmp/brokerstore.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
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
