/*
 * test_serial.c - one parser for every typed id (serial.h), and the places
 * that use it: request ids, opt-out ids, and an opt-out's request: scope.
 *
 * Fails when: the overflow check in serial_parse() is dropped (the
 * 2^64 + 1 cases wrap onto r1), or optouts.c parses its request: scope with
 * its own loop again (checked by wrapped_request_scope).
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "errors.h"
#include "optouts.h"
#include "record.h"
#include "serial.h"

Test(serial, accepts)
{
	uint64_t v = 0;

	cr_assert_eq(serial_parse("r42", 'r', false, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(serial_parse("42", 'r', true, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(serial_parse("r18446744073709551615", 'r', false, &v), 0);
	cr_assert_eq(v, UINT64_MAX);
}

Test(serial, refuses)
{
	static const char *const bad[] = { NULL, "", "r", "r0", "r01", "42x",
		"r-1", "r+1", " r1", "r1 ", "o1", "r18446744073709551616",
		"r18446744073709551617", "r36893488147419103233",
		"r99999999999999999999999" };
	uint64_t v = 7;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(serial_parse(bad[i], 'r', false, &v),
		    BRK_ERR_INVALID, "\"%s\" refused", bad[i] ? bad[i] : "NULL");
	cr_assert_eq(v, 7, "nothing written on failure");
	cr_assert_eq(serial_parse("42", 'r', false, &v), BRK_ERR_INVALID,
	    "the letter is required unless optional");
}

Test(serial, request_and_optout_ids)
{
	uint64_t v = 0;

	cr_assert_eq(req_id_parse("r18446744073709551617", &v), BRK_ERR_INVALID);
	cr_assert_eq(optout_id_parse("o18446744073709551617", &v),
	    BRK_ERR_INVALID);
	cr_assert_eq(optout_id_parse("o3", &v), 0);
	cr_assert_eq(v, 3);
	cr_assert_eq(optout_id_parse("3", &v), BRK_ERR_INVALID);
}

Test(serial, wrapped_request_scope)
{
	struct optout o = { 0 };
	struct brk_error err = { 0 };

	cr_assert_neq(optout_parse_scope("request:r18446744073709551617", &o,
	    &err), 0, "a serial past 2^64 is refused, not wrapped onto r1");
	cr_assert_eq(optout_parse_scope("request:r18", &o, &err), 0);
	cr_assert_str_eq(o.pattern, "r18");
}
