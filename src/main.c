/*
 * main.c - the tierfs command: parse the command line, open the store,
 * mount, daemonize, run the FUSE loop, unmount.
 *
 *   tierfs [STORE] MOUNTPOINT [-f] [-d] [-s] [-o opt[,opt...]]
 *
 * Our own -o keys (config.h) are taken out; everything else goes to libfuse
 * (allow_other, ro, fsname, ...), which refuses what it does not know. Bad
 * input exits with 2 before anything is mounted; failures to open the store
 * or to mount exit with 1. Settings are layered: defaults, then
 * STORE/tierfs.conf, then -o options.
 *
 * Readiness: if TIERFS_READY_FD names an open descriptor, "ready\n" is
 * written to it once the mount is live (tests wait on it instead of
 * sleeping).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "config.h"
#include "fs.h"
#include "fuse_ops.h"
#include "log.h"
#include "store.h"

#define EXIT_USAGE 2

struct cmdline {
	const char *store;
	const char *mnt;
	bool foreground;
	bool debug;
	bool single;
	char *our_opts;         /* comma list of our keys, in order */
	char *fuse_opts;        /* comma list for libfuse */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tierfs [STORE] MOUNTPOINT [-f] [-d] [-s] [-o opt[,opt...]]\n"
		"\n"
		"Mount a tiered filesystem: file data lives in RAM (hot), in LZ4\n"
		"segments (warm) or in xz archives (cold) under STORE.\n"
		"\n"
		"  -f            stay in the foreground\n"
		"  -d            debug output (implies -f)\n"
		"  -s            single-threaded\n"
		"  -o hot_max=SIZE, hot_age=DUR, warm_age=DUR, promote_after=N,\n"
		"     cold_level=0..9, cold_block=SIZE, interval=DUR,\n"
		"     tierdirs=hidden|visible, list_tier_xattrs, cache_size=SIZE,\n"
		"     ...\n"
		"     plus libfuse's options (allow_other, ro, ...)\n"
		"  -h, --help    this help\n"
		"  -V, --version the version\n"
		"\n"
		"STORE defaults to /var/lib/tierfs/<mountpoint> (root) or\n"
		"$XDG_DATA_HOME/tierfs/<mountpoint>. See tierfs(1).\n");
}

static int append_opt(char **list, const char *opt)
{
	size_t old = *list ? strlen(*list) : 0;
	char *n = realloc(*list, old + strlen(opt) + 2);

	if (!n)
		return -ENOMEM;
	if (old)
		n[old++] = ',';
	strcpy(n + old, opt);
	*list = n;
	return 0;
}

/* Options mount(8) and fstab put on the line that mean nothing to us. */
static bool ignored_opt(const char *o)
{
	static const char *const names[] = {
		"defaults", "auto", "noauto", "nofail", "_netdev", "user",
		"users", "owner", "nouser",
	};

	if (!strncmp(o, "x-", 2) || !strncmp(o, "comment=", 8))
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(o, names[i]))
			return true;
	return false;
}

/* Split one -o argument into our keys and libfuse's. */
static int split_opts(struct cmdline *cl, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *o;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (o = strtok_r(copy, ",", &save); o && !rc;
	     o = strtok_r(NULL, ",", &save)) {
		char key[64];
		const char *eq = strchr(o, '=');
		size_t klen = eq ? (size_t)(eq - o) : strlen(o);

		if (klen >= sizeof(key))
			klen = sizeof(key) - 1;
		memcpy(key, o, klen);
		key[klen] = 0;
		if (ignored_opt(o))
			continue;
		if (config_is_flag(key) && !eq) {
			/* a bare yes/no key: -o list_tier_xattrs */
			char kv[80];

			snprintf(kv, sizeof(kv), "%s=yes", key);
			rc = append_opt(&cl->our_opts, kv);
		} else if (config_is_key(key)) {
			rc = append_opt(&cl->our_opts, o);
		} else {
			rc = append_opt(&cl->fuse_opts, o);
		}
	}
	free(copy);
	return rc;
}

/* 0, or an exit code. */
static int parse_cmdline(int argc, char **argv, struct cmdline *cl)
{
	const char *pos[3];
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("tierfs %s (libfuse %s)\n", TIERFS_VERSION,
			       fuse_pkgversion());
			exit(0);
		} else if (!strcmp(a, "-f")) {
			cl->foreground = true;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--debug")) {
			cl->debug = cl->foreground = true;
		} else if (!strcmp(a, "-s")) {
			cl->single = true;
		} else if (!strncmp(a, "-o", 2)) {
			const char *v = a[2] ? a + 2 : (i + 1 < argc ?
							argv[++i] : NULL);

			if (!v) {
				fprintf(stderr, "tierfs: -o needs a value\n");
				return EXIT_USAGE;
			}
			if (split_opts(cl, v))
				return 1;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "tierfs: unknown option '%s'\n", a);
			usage(stderr);
			return EXIT_USAGE;
		} else {
			if (npos == 2) {
				fprintf(stderr,
					"tierfs: too many arguments ('%s')\n",
					a);
				return EXIT_USAGE;
			}
			pos[npos++] = a;
		}
	}
	if (npos == 0) {
		fprintf(stderr, "tierfs: missing MOUNTPOINT\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	cl->mnt = pos[npos - 1];
	cl->store = npos == 2 ? pos[0] : NULL;
	return 0;
}

/* Apply our -o keys to cfg; 0 or an exit code. */
static int apply_opts(struct tfs_config *cfg, const char *opts)
{
	char *copy, *save = NULL, *o;
	char err[512];
	int rc = 0;

	if (!opts)
		return 0;
	copy = strdup(opts);
	if (!copy)
		return 1;
	for (o = strtok_r(copy, ",", &save); o && !rc;
	     o = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(o, '=');

		if (!eq) {
			fprintf(stderr, "tierfs: option '%s' needs a value "
				"(%s=...)\n", o, o);
			rc = EXIT_USAGE;
			break;
		}
		*eq = 0;
		if (config_set(cfg, o, eq + 1, err, sizeof(err))) {
			fprintf(stderr, "tierfs: %s\n", err);
			rc = EXIT_USAGE;
		}
	}
	free(copy);
	return rc;
}

static void notify_ready(void)
{
	const char *s = getenv("TIERFS_READY_FD");
	char *end;
	long fd;

	if (!s || !*s)
		return;
	fd = strtol(s, &end, 10);
	if (*end || fd < 0 || fd > 1 << 20)
		return;
	if (write((int)fd, "ready\n", 6) < 0)
		tfs_warn("cannot write to TIERFS_READY_FD %ld: %s", fd,
			 strerror(errno));
	close((int)fd);
}

/* In the background, log to STORE/tierfs.log. */
static void redirect_log(const char *store_dir)
{
	char path[4096];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/tierfs.log", store_dir) >=
	    sizeof(path))
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static struct fuse_session *new_session(const struct cmdline *cl,
					const char *store, struct fs *fsp)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	char *opts = NULL;

	if (fuse_opt_add_arg(&args, "tierfs"))
		goto out_free;
	if (append_opt(&opts, "default_permissions") ||
	    (cl->fuse_opts && append_opt(&opts, cl->fuse_opts)))
		goto out_free;
	if (!strstr(opts, "fsname=")) {
		char *fsn = NULL;

		if (asprintf(&fsn, "fsname=%s,subtype=tierfs", store) < 0)
			goto out_free;
		/* libfuse splits on commas; a store path with one would
		 * break the option string. */
		if (!strchr(store, ',') && append_opt(&opts, fsn)) {
			free(fsn);
			goto out_free;
		}
		free(fsn);
	}
	if (fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, opts))
		goto out_free;
	if (cl->debug && fuse_opt_add_arg(&args, "-d"))
		goto out_free;
	se = fuse_session_new(&args, &tierfs_ops, sizeof(tierfs_ops), fsp);
out_free:
	free(opts);
	fuse_opt_free_args(&args);
	return se;
}

static int run(struct cmdline *clp);

/* Every open cold archive and warm segment holds a descriptor: take as
 * many as the hard limit allows (the default soft limit is 1024). */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct cmdline cl = { 0 };
	int ret = parse_cmdline(argc, argv, &cl);

	if (!ret) {
		raise_fd_limit();
		ret = run(&cl);
	}
	free(cl.our_opts);
	free(cl.fuse_opts);
	return ret;
}

/* Everything after the command line: 0, or an exit status. */
static int run(struct cmdline *clp)
{
	struct cmdline cl = *clp;
	struct tfs_config cfg;
	struct fuse_session *se = NULL;
	struct fs *fsp = NULL;
	char store[4096], conf[4200], err[512], mnt[PATH_MAX], cwd[PATH_MAX];
	struct stat st;
	sigset_t hup;
	int rc, ret = 1;

	/* Validate our options before touching anything. */
	config_defaults(&cfg);
	rc = apply_opts(&cfg, cl.our_opts);
	if (rc)
		return rc;

	if (stat(cl.mnt, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "tierfs: mountpoint %s: %s\n", cl.mnt,
			errno ? strerror(errno) : "not a directory");
		return 1;
	}
	/* Absolute paths: the daemon changes to / when it detaches. */
	if (!realpath(cl.mnt, mnt)) {
		fprintf(stderr, "tierfs: mountpoint %s: %s\n", cl.mnt,
			strerror(errno));
		return 1;
	}
	cl.mnt = mnt;
	if (cl.store) {
		int n;

		if (realpath(cl.store, store))
			n = (int)strlen(store);
		else if (cl.store[0] == '/')
			n = snprintf(store, sizeof(store), "%s", cl.store);
		else
			n = getcwd(cwd, sizeof(cwd)) ?
				snprintf(store, sizeof(store), "%s/%s", cwd,
					 cl.store) : -1;
		if (n < 0 || (size_t)n >= sizeof(store)) {
			fprintf(stderr, "tierfs: store path %s too long\n",
				cl.store);
			return EXIT_USAGE;
		}
	} else {
		rc = store_default_dir(cl.mnt, store, sizeof(store));
		if (rc) {
			fprintf(stderr, "tierfs: cannot derive a default store "
				"for %s: %s\n", cl.mnt, strerror(-rc));
			return 1;
		}
	}

	/* defaults < STORE/tierfs.conf < -o */
	snprintf(conf, sizeof(conf), "%s/tierfs.conf", store);
	config_defaults(&cfg);
	rc = config_load_file(&cfg, conf, err, sizeof(err));
	if (rc == -EINVAL) {
		fprintf(stderr, "tierfs: %s\n", err);
		return EXIT_USAGE;
	}
	/* Other failures (no store yet, store not a directory) are for
	 * fs_mount() to report. */
	rc = apply_opts(&cfg, cl.our_opts);
	if (rc)
		return rc;

	/* A session with a NULL fs pointer only checks libfuse's options;
	 * the real one is made once the store is open. */
	se = new_session(&cl, store, NULL);
	if (!se) {
		fprintf(stderr, "tierfs: bad mount options (see above)\n");
		return EXIT_USAGE;
	}
	fuse_session_destroy(se);

	rc = fs_mount(&fsp, store, &cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "tierfs: %s\n", err);
		return 1;
	}
	se = new_session(&cl, store, fsp);
	if (!se)
		goto out_unmount;
	if (fuse_set_signal_handlers(se))
		goto out_session;
	/* SIGHUP reloads tierfs.conf: blocked in every thread, taken by the
	 * policy thread through a signalfd. */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hup, NULL);
	if (fs_set_overrides(fsp, cl.our_opts))
		goto out_signals;
	if (fuse_session_mount(se, cl.mnt)) {
		fprintf(stderr, "tierfs: cannot mount on %s\n", cl.mnt);
		goto out_signals;
	}
	if (fuse_daemonize(cl.foreground))
		goto out_fuse_unmount;
	if (!cl.foreground)
		redirect_log(store);
	fs_note_pid(fsp);
	rc = fs_start(fsp);
	if (rc) {
		tfs_err("cannot start the policy thread: %s", strerror(-rc));
		goto out_fuse_unmount;
	}
	tfs_info("mounted %s on %s", store, cl.mnt);
	notify_ready();

	if (cl.single) {
		rc = fuse_session_loop(se);
	} else {
		struct fuse_loop_config *lc = fuse_loop_cfg_create();

		if (!lc)
			goto out_fuse_unmount;
		fuse_loop_cfg_set_clone_fd(lc, 0);
		fuse_loop_cfg_set_idle_threads(lc, 8);
		rc = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	/* The loop returns the signal that ended it (SIGTERM, SIGINT): an
	 * orderly unmount like fusermount3 -u. */
	ret = rc < 0 ? 1 : 0;
	fs_stop(fsp);
out_fuse_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_unmount:
	fs_unmount(&fsp);
	if (ret == 0)
		tfs_info("unmounted %s", cl.mnt);
	return ret;
}
