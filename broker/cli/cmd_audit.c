/*
 * cmd_audit.c - the audit trail from the command line.
 */
#include <string.h>

#include "cli.h"

int
cmd_audit(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd *cmd = cli_cmd("audit");
	json_t *res = NULL;
	bool intact;
	int r;

	if (argc < 1 || strcmp(argv[0], "verify") != 0) {
		if (argc > 0 && (strcmp(argv[0], "--help") == 0 ||
		    strcmp(argv[0], "-h") == 0))
			return cli_parse(cmd, argc, argv, NULL, NULL, 0);
		return cli_fail(cli, EX_USAGE, "usage", "audit: expected "
		    "verify");
	}
	if ((r = cli_parse(cmd, argc - 1, argv + 1, NULL, NULL, 0)) != 0)
		return r;
	if ((r = cli_call(cli, "audit.verify", NULL, &res)) != 0)
		return r;
	intact = json_is_true(json_object_get(res, "ok"));
	if (cli->json)
		cli_print_json(res);
	else
		printf("%s: %lld records checked: %s\n", intact ? "intact" :
		    "BROKEN", (long long)json_integer_value(json_object_get(res,
		    "records")), cli_str(res, "message"));
	json_decref(res);
	return intact ? EX_DONE : EX_REFUSED;
}
