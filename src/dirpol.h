/*
 * dirpol.h - per-directory placement policies: the value of a directory's
 * user.tierfs.policy ("hot_age=10m warm_age=never pin=warm"), and the map
 * the policy thread builds each tick from every file to the policy that
 * applies to it.
 *
 * What it is: a parser (the syntax below) and a map. A directory's policy
 * applies to every file below it; each key comes from the closest
 * directory that sets it (a subdirectory that sets only pin keeps its
 * parent's ages), and keys no directory sets come from the mount's
 * settings. A file's own pin wins over any directory's.
 *   hot_age=DURATION|never   idle time before hot -> warm
 *   warm_age=DURATION|never  idle time before warm -> cold (never: the
 *                            files below never go cold by age)
 *   pin=hot|warm|cold|none   as if each file were pinned (none: unpinned,
 *                            overriding a pin of a directory above)
 * Keys are separated by spaces or commas; each at most once; durations as
 * in tierfs.conf (ms, s, m, h, d).
 * What it is not: storage (the value is an ordinary xattr row in meta, so
 * it persists with the tree and needs no schema) and not the policy (the
 * policy thread decides; see policy_rules.c).
 *
 * Cost: building the map reads the rows holding a policy (one query) and
 * lists every directory below a policy once (one query per directory); with
 * no policy set it is one query. Lookups are a hash probe.
 */
#ifndef TIERFS_DIRPOL_H
#define TIERFS_DIRPOL_H

#include <stddef.h>
#include <stdint.h>

#include "tierfs.h"

struct meta;

#define DIRPOL_XATTR "user.tierfs.policy"
#define DIRPOL_MAX 1024                 /* longest value accepted */
#define DIRPOL_NEVER UINT64_MAX         /* an age that never passes */

enum {
	DIRPOL_HOT_AGE = 1 << 0,
	DIRPOL_WARM_AGE = 1 << 1,
	DIRPOL_PIN = 1 << 2,
};

struct dirpol {
	unsigned has;                   /* DIRPOL_* keys set */
	uint64_t hot_age_ms;            /* or DIRPOL_NEVER */
	uint64_t warm_age_ms;           /* or DIRPOL_NEVER */
	int pin;                        /* a tier or TFS_PIN_NONE */
};

/* Parse a value (not NUL-terminated). 0 or -EINVAL (empty, unknown key,
 * bad value, a key twice, longer than DIRPOL_MAX). */
int dirpol_parse(const char *v, size_t len, struct dirpol *out);

/* Every file below a directory with a policy, and the policy that applies
 * to it (keys merged from the directories above). Immutable once built,
 * so it may be read by several threads. */
struct dirpol_map;
/* *out is NULL when no directory has a policy. */
int dirpol_map_build(struct meta *m, struct dirpol_map **out);
/* The policy for file (or directory) `ino`, NULL if none applies. */
const struct dirpol *dirpol_map_get(const struct dirpol_map *map,
				    uint64_t ino);
/* The smallest hot_age and warm_age in the map (DIRPOL_NEVER if none
 * sets one). */
void dirpol_map_min_ages(const struct dirpol_map *map, uint64_t *hot_ms,
			 uint64_t *warm_ms);
void dirpol_map_free(struct dirpol_map **map);

#endif
