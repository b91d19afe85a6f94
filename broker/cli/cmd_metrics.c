/*
 * cmd_metrics.c - `broker metrics`: the broker's metrics in the Prometheus
 * text format, as the metrics_listen endpoint serves them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* One sample line, "name{k="v",...} value", as {name, labels, value};
 * NULL for a line that is not one. */
static json_t *
parse_sample(const char *line, size_t len)
{
	char buf[1024], *p, *sp, *end;
	json_t *o, *labels;
	double v;

	if (len == 0 || len >= sizeof(buf) || line[0] == '#')
		return NULL;
	memcpy(buf, line, len);
	buf[len] = '\0';
	if ((sp = strrchr(buf, ' ')) == NULL)
		return NULL;
	*sp = '\0';
	v = strtod(sp + 1, &end);
	if (end == sp + 1 || *end != '\0')
		return NULL;
	labels = json_object();
	if ((p = strchr(buf, '{')) != NULL) {
		char *q = p + 1, *eq, *close;

		*p = '\0';
		/* k="v" pairs; our values hold no quotes or commas */
		while ((eq = strchr(q, '=')) != NULL && eq[1] == '"' &&
		    (close = strchr(eq + 2, '"')) != NULL) {
			*eq = *close = '\0';
			json_object_set_new(labels, q, json_string(eq + 2));
			q = close + 1;
			if (*q == ',')
				q++;
		}
	}
	o = json_pack(
	    "{s:s, s:o, s:f}", "name", buf, "labels", labels, "value", v);
	if (o != NULL && v == (double)(json_int_t)v && v < 9e15 && v > -9e15)
		json_object_set_new(o, "value", json_integer((json_int_t)v));
	return o;
}

/* --json: the figures, parsed (a script wants numbers, not text). */
static json_t *
parse_metrics(const char *text)
{
	json_t *a = json_array(), *o;
	const char *p = text, *nl;

	while (a != NULL && *p != '\0') {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		if ((o = parse_sample(p, (size_t)(nl - p))) != NULL)
			json_array_append_new(a, o);
		p = *nl == '\n' ? nl + 1 : nl;
	}
	return a;
}

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
	if (cli->json && json_is_string(json_object_get(res, "text"))) {
		json_t *a = parse_metrics(
		    json_string_value(json_object_get(res, "text")));

		cli_print_json(a);
		json_decref(a);
	} else if (cli->json)
		cli_print_json(res);
	else if ((text = json_string_value(json_object_get(res, "text"))) !=
	    NULL)
		fwrite(text, 1,
		    json_string_length(json_object_get(res, "text")), stdout);
	else {
		json_decref(res);
		return cli_fail(cli, EX_ERROR, "protocol",
		    "the broker sent no "
		    "metrics text");
	}
	json_decref(res);
	return EX_DONE;
}
