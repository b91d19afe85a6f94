/*
 * names.c - the canonical forms of names (see names.h).
 *
 * Each check walks the bytes once against a small character class, so a
 * name with a control character, a space or a capital letter is refused
 * before it can reach a comparison, a log line or a certificate.
 */
#include "names.h"

#include <stddef.h>
#include <string.h>

#define USER_MAX 32
#define GROUP_MAX 64
#define KIND_MAX 32
#define RESNAME_MAX 255
#define ID_MAX 64

static int
is_lower_digit(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int
is_alnum(int c)
{
	return is_lower_digit(c) || (c >= 'A' && c <= 'Z');
}

bool
name_user_valid(const char *s)
{
	size_t i, len;

	if (s == NULL || (len = strnlen(s, USER_MAX + 1)) == 0 ||
	    len > USER_MAX || s[0] == '-' || s[0] == '.')
		return false;
	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		/* '$' only last, and never alone (Samba machine accounts). */
		if (c == '$' && i == len - 1 && i > 0)
			continue;
		if (!is_lower_digit(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

bool
name_group_valid(const char *s)
{
	size_t i, len;

	if (s == NULL || (len = strnlen(s, GROUP_MAX + 1)) == 0 ||
	    len > GROUP_MAX || s[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (!is_alnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

bool
name_resource_valid(const char *s)
{
	const char *colon, *name;
	size_t i, klen, nlen;

	if (s == NULL || (colon = strchr(s, ':')) == NULL)
		return false;
	klen = (size_t)(colon - s);
	if (klen == 0 || klen > KIND_MAX)
		return false;
	for (i = 0; i < klen; i++)
		if (!is_lower_digit((unsigned char)s[i]) && s[i] != '-')
			return false;
	name = colon + 1;
	nlen = strnlen(name, RESNAME_MAX + 1);
	if (nlen == 0 || nlen > RESNAME_MAX)
		return false;
	for (i = 0; i < nlen; i++) {
		int c = (unsigned char)name[i];

		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\')
			return false;
	}
	return true;
}

bool
name_id_valid(const char *s)
{
	size_t i, len;

	if (s == NULL || (len = strnlen(s, ID_MAX + 1)) == 0 || len > ID_MAX)
		return false;
	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (!is_alnum(c) && c != '_' && c != '.' && c != ':' &&
		    c != '-')
			return false;
	}
	return true;
}
