/*
 * tierctl_json.c - the small JSON reader tierctl needs for MNT/.tiers/stats:
 * one lookup of a scalar by dotted path. Not a general JSON library.
 */
#include "tierctl_json.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define JSON_DEPTH_MAX 32	/* nesting */


/* One lookup: parse the document and copy out the text of the scalar at a
 * dotted path ("tiers.hot.files", "a.0" for an array's first element).
 * Objects, arrays, strings, numbers and literals are accepted, unknown keys
 * skipped. */
struct json {
	const char *p, *end;
	char out[64];
	bool found;
	int depth;
};

static void j_ws(struct json *j)
{
	while (j->p < j->end && isspace((unsigned char)*j->p))
		j->p++;
}

/* A string into OUT, truncated to fit; an escape stands for the escaped
 * character (\n as 'n'), which is enough for keys and numbers. */
static int j_string(struct json *j, char *out, size_t size)
{
	size_t n = 0;

	if (j->p >= j->end || *j->p != '"')
		return -EINVAL;
	for (j->p++; j->p < j->end && *j->p != '"'; j->p++) {
		if (*j->p == '\\' && ++j->p >= j->end)
			return -EINVAL;
		if (n + 1 < size)
			out[n++] = *j->p;
	}
	if (j->p++ >= j->end)
		return -EINVAL;
	out[n] = 0;
	return 0;
}

/* One value; WANT is what is left of the wanted path below it, NULL when
 * it cannot be there. */
static int j_value(struct json *j, const char *want)
{
	char buf[64], close;
	size_t n = 0;
	int rc = 0;

	j_ws(j);
	if (j->p < j->end && *j->p == '"') {
		rc = j_string(j, buf, sizeof(buf));
		goto out_scalar;
	}
	if (j->p < j->end && *j->p != '{' && *j->p != '[') {
		while (j->p < j->end && n + 1 < sizeof(buf) &&
		       (isalnum((unsigned char)*j->p) || strchr("+-.", *j->p)))
			buf[n++] = *j->p++;
		buf[n] = 0;
		if (!n)		/* a number or a literal (not checked) */
			rc = -EINVAL;
		goto out_scalar;
	}
	if (j->p >= j->end || ++j->depth > JSON_DEPTH_MAX)
		return -EINVAL;
	close = *j->p++ == '{' ? '}' : ']';
	for (size_t idx = 0; j_ws(j), j->p < j->end && *j->p != close; idx++) {
		if (idx && *j->p++ != ',')
			return -EINVAL;
		j_ws(j);
		snprintf(buf, sizeof(buf), "%zu", idx);
		if (close == '}' && (j_string(j, buf, sizeof(buf)) ||
				     (j_ws(j), j->p >= j->end) ||
				     *j->p++ != ':'))
			return -EINVAL;
		n = strlen(buf);
		rc = j_value(j, want && !strncmp(want, buf, n) &&
			     (!want[n] || want[n] == '.') ?
			     want + n + !!want[n] : NULL);
		if (rc)
			return rc;
	}
	if (j->p++ >= j->end)
		return -EINVAL;
	j->depth--;
	return 0;
out_scalar:
	if (!rc && want && !*want) {
		memcpy(j->out, buf, sizeof(buf));
		j->found = true;
	}
	return rc;
}

/* The value at WANT in the NUL-terminated TEXT, in OUT of 64 bytes; NULL
 * when absent or when TEXT is not JSON. */
const char *json_get(const char *text, const char *want, char *out)
{
	struct json j = { .p = text, .end = text + strlen(text) };

	if (j_value(&j, want) || !j.found)
		return NULL;
	return memcpy(out, j.out, sizeof(j.out));
}

