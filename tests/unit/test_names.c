/*
 * test_names.c - the canonical name checks of policy/names.c.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "names.h"

Test(names, users)
{
	const char *good[] = { "alice", "a", "bob.smith", "svc_web-1",
	    "host$", "0day", "abcdefghijklmnopqrstuvwxyz012345", NULL };
	const char *bad[] = { "", "Alice", "alice ", " alice", "al\nice",
	    "al ice", "-alice", ".alice", "$", "ali$ce", "alice$$",
	    "abcdefghijklmnopqrstuvwxyz0123456", "al\tice", "élise",
	    "a/b", "a:b", NULL };
	size_t i;

	for (i = 0; good[i] != NULL; i++)
		cr_expect(name_user_valid(good[i]), "%s", good[i]);
	for (i = 0; bad[i] != NULL; i++)
		cr_expect(!name_user_valid(bad[i]), "%s", bad[i]);
	cr_expect(!name_user_valid(NULL));
}

Test(names, groups)
{
	char big[80];

	cr_expect(name_group_valid("dev"));
	cr_expect(name_group_valid("DBA-Leads"));
	cr_expect(name_group_valid("domain.users_1"));
	cr_expect(name_group_valid(".hidden"));
	cr_expect(!name_group_valid(""));
	cr_expect(!name_group_valid("-x"));
	cr_expect(!name_group_valid("a b"));
	cr_expect(!name_group_valid("a\n"));
	cr_expect(!name_group_valid("a$"));
	cr_expect(!name_group_valid(NULL));
	memset(big, 'g', 64);
	big[64] = '\0';
	cr_expect(name_group_valid(big));
	big[64] = 'g';
	big[65] = '\0';
	cr_expect(!name_group_valid(big));
}

Test(names, resources)
{
	char big[300];

	cr_expect(name_resource_valid("host:web-1"));
	cr_expect(name_resource_valid("k8s:prod/ns=a,b"));
	cr_expect(name_resource_valid("db:x[1]"));
	cr_expect(!name_resource_valid("host"));
	cr_expect(!name_resource_valid(":x"));
	cr_expect(!name_resource_valid("host:"));
	cr_expect(!name_resource_valid("Host:x"));
	cr_expect(!name_resource_valid("host:a b"));
	cr_expect(!name_resource_valid("host:a\"b"));
	cr_expect(!name_resource_valid("host:a'b"));
	cr_expect(!name_resource_valid("host:a\\b"));
	cr_expect(!name_resource_valid("host:a\x7f"));
	cr_expect(!name_resource_valid("host:\xc3\xa9"));
	cr_expect(!name_resource_valid(NULL));
	memcpy(big, "host:", 5);
	memset(big + 5, 'x', 255);
	big[260] = '\0';
	cr_expect(name_resource_valid(big));
	big[260] = 'x';
	big[261] = '\0';
	cr_expect(!name_resource_valid(big));
}

Test(names, ids)
{
	cr_expect(name_id_valid("staging-auto"));
	cr_expect(name_id_valid("A.b_c:d-1"));
	cr_expect(!name_id_valid(""));
	cr_expect(!name_id_valid("a b"));
	cr_expect(!name_id_valid("a/b"));
	cr_expect(!name_id_valid("a\n"));
	cr_expect(!name_id_valid(
	    "0123456789012345678901234567890123456789012345678901234567890123x"));
	cr_expect(!name_id_valid(NULL));
}
