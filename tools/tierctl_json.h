/*
 * tierctl_json.h - look up one scalar in a JSON document by dotted path
 * ("tiers.hot.files", "a.0" for an array's first element). Objects, arrays,
 * strings, numbers and literals are accepted, unknown keys skipped.
 */
#ifndef TIERCTL_JSON_H
#define TIERCTL_JSON_H

/* Copies the value's text into out (64 bytes) and returns out, or NULL if
 * the path is absent or the document malformed. */
const char *json_get(const char *text, const char *want, char *out);

#endif
