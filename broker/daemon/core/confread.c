/*
 * confread.c - typed reads of one config value (config.h), shared by the
 * top-level parser and every section's parser.  Kept apart from config.c
 * so that the sections (net/tls.c, identity/, notify/) depend on core only,
 * never on the file that calls them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "config: \"key\"" at the top level, "config: section.key" inside one */
static int
bad_value(struct brk_error *err, const char *section, const char *key,
    const char *what)
{
	if (section == NULL)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: \"%s\" must be %s", key, what);
	return brk_error_set(err, BRK_ERR_INVALID, "config: %s.%s must be %s",
	    section, key, what);
}

int
config_get_str(const char *section, json_t *v, const char *key, char **dst,
    struct brk_error *err)
{
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > 4096 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return bad_value(err, section, key, "a non-empty string");
	free(*dst);
	if ((*dst = strdup(json_string_value(v))) == NULL)
		return BRK_ERR_NOMEM;
	return 0;
}

int
config_get_int64(const char *section, json_t *v, const char *key, int64_t min,
    int64_t max, int64_t *out, struct brk_error *err)
{
	char what[96];

	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		snprintf(what, sizeof(what), "an integer from %lld to %lld",
		    (long long)min, (long long)max);
		return bad_value(err, section, key, what);
	}
	*out = json_integer_value(v);
	return 0;
}

int
config_get_int(const char *section, json_t *v, const char *key, int min,
    int max, int *out, struct brk_error *err)
{
	int64_t n = 0;
	int r;

	if ((r = config_get_int64(section, v, key, min, max, &n, err)) == 0)
		*out = (int)n;
	return r;
}
