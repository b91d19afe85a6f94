/*
 * names.h - the canonical forms of names the broker accepts.
 *
 * User names: 1-32 bytes of [a-z0-9_.-], first not '-' or '.', optional
 * trailing '$' (Debian's useradd default, plus dots).  Lowercase only, so two
 * names can never differ only by case.  Group names: 1-64 bytes of
 * [A-Za-z0-9_.-], first not '-'.  Resources: "kind:name", kind [a-z0-9-]+,
 * name 1-255 printable ASCII bytes without spaces, quotes or backslashes.
 * Rule ids and tags: [A-Za-z0-9_.:-], 1-64 bytes.
 */
#ifndef BRK_NAMES_H
#define BRK_NAMES_H

#include <stdbool.h>

bool name_user_valid(const char *s);
bool name_group_valid(const char *s);
bool name_resource_valid(const char *s);
bool name_id_valid(const char *s);

#endif
