/*
 * tierctl.h - what the parts of tierctl share: the command context, messages
 * and exit status, finding mounts, reading user.tierfs.* xattrs and
 * .tiers/ files, collecting the files operands name, sizes and JSON output.
 *
 * What it is not: a client library. tierctl links nothing but libc and
 * pthreads and never opens a store; it talks to the daemon only through
 * xattrs and MNT/.tiers/ files (offline work is tierfs-fsck's).
 *
 * Exit status: 0 success; 1 an operation failed on some path (each one is
 * reported); 2 usage; 3 a path is not on a tierfs mount; the highest wins.
 */
#ifndef TIERCTL_H
#define TIERCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/types.h>

#define FSTYPE "fuse.tierfs"
#define XA_PREFIX "user.tierfs."
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_NOT_TIERFS 3
#define NTIERS 3

extern const char *const tier_names[NTIERS];

struct item {
	char *path;
	dev_t dev;
	ino_t ino;
	uint64_t size;
	int arg;		/* index of the operand that named it */
	bool direct;		/* named directly, not found below a dir */
};

struct ctx {
	struct item *items;	/* regular files collected by collect() */
	size_t nitem, capitem;
	const char *to;		/* options */
	bool recursive, bytes, all, json, clear;
	int jobs;		/* warmup threads */
	double watch;		/* status --watch interval (s), 0 off */
	long count;		/* status --watch: refreshes, 0 forever */
	int status;		/* exit status so far: the highest */
	bool bar_shown;		/* a progress line is on stderr */
};

/* ---- messages ---- */
__attribute__((format(printf, 4, 5)))
void report(struct ctx *c, int status, const char *path, const char *fmt,
	    ...);
/* "tierctl: " + fmt(arg) and the usage on stderr; returns EXIT_USAGE. */
int usage_error(const char *fmt, const char *arg);

/* ---- mounts ---- */
/* Type, source and mount point of the mount with device DEV. type 64,
 * source and dir 4096 bytes (dir may be NULL). */
int mount_info(dev_t dev, char *type, char *source, char *dir);
bool on_tierfs(const char *path, const struct stat *st);
/* stat(2) an operand; false, reported, when that fails or it is not on a
 * tierfs mount. */
bool operand(struct ctx *c, const char *path, struct stat *st);
/* The root of the mount holding PATH (malloc'd). */
int mount_root(const char *path, char **out);
/* The mount a command without a path works on: the cwd's when it is on
 * tierfs, else the only tierfs mounted (malloc'd). Reports and returns the
 * exit status (EXIT_NOT_TIERFS for none, EXIT_USAGE for several). */
int default_mount(struct ctx *c, char **out);
/* The whole of a small file (a .tiers/ file) in *text, NUL-terminated. */
int read_file(const char *path, char **text);

/* ---- xattrs ---- */
/* user.tierfs.WHAT as a printable string; "-" and -errno on failure. */
int xa_get(const char *path, const char *what, char *buf, size_t size);
/* user.tierfs.stored as a number; false when unknown. */
bool xa_stored(const char *path, uint64_t *v);
int tier_index(const char *name);

/* ---- collecting files ---- */
/* Regular files the operands name: a directory contributes the files
 * below it with c->recursive (or FORCE_DEEP), an error otherwise. */
void collect(struct ctx *c, int n, char **paths, bool force_deep);
void items_free(struct ctx *c);

/* ---- output ---- */
char *fmt_size(char *buf, size_t n, uint64_t v, bool bytes);
/* S as a JSON string (quotes included) on FP. */
void json_str(FILE *fp, const char *s);
double now_sec(void);

/* ---- commands (one file per concern) ---- */
int cmd_ls(struct ctx *c, int n, char **paths);		/* tierctl_ls.c */
int cmd_du(struct ctx *c, int n, char **paths);
int cmd_pins(struct ctx *c, int n, char **paths);
int cmd_set(struct ctx *c, int n, char **paths, const char *what,
	    const char *value);				/* tierctl_move.c */
int cmd_warmup(struct ctx *c, int n, char **paths);
int cmd_status(struct ctx *c, int n, char **paths);	/* tierctl_status.c */
int cmd_config(struct ctx *c, int n, char **paths);
int cmd_policy(struct ctx *c, int n, char **paths);

#endif
