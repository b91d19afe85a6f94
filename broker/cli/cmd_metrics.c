/*
 * cmd_metrics.c - `broker metrics`: the broker's metrics in the Prometheus
 * text format, as the metrics_listen endpoint serves them.
 */
#include <stdio.h>

#include "cli.h"

int
cmd_metrics(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd *cmd = cli_cmd("metrics");
	json_t *res = NULL;
	const char *text;
	int r;

	if ((r = cli_parse(cli, cmd, argc, argv, NULL, NULL, 0)) != 0)
		return r;
	if ((r = cli_call(cli, "metrics", NULL, &res)) != 0)
		return r;
	if (cli->json)
		cli_print_json(res);
	else if ((text = json_string_value(json_object_get(res, "text"))) !=
	    NULL)
		fwrite(text, 1, json_string_length(json_object_get(res, "text")),
		    stdout);
	else {
		json_decref(res);
		return cli_fail(cli, EX_ERROR, "protocol", "the broker sent no "
		    "metrics text");
	}
	json_decref(res);
	return EX_DONE;
}
