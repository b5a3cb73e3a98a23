/*
 * main.c - the tierfs command: parse the command line, open the store,
 * mount, daemonize, run the FUSE loop, unmount.
 *
 *   tierfs [STORE] MOUNTPOINT [-f] [-d] [-s] [-o opt[,opt...]]
 *
 * Our own -o keys (config.h) are taken out, and so are the daemon's
 * mount-time options (create, nonempty, log, metrics_listen); everything
 * else goes to libfuse (allow_other, ro, fsname, ...), which refuses what it
 * does not know. Bad input exits with 2 before anything is mounted;
 * failures to open the store or to mount exit with 1, and so do a STORE
 * given explicitly that does not exist (unless -o create: a typo must not
 * mount an empty tree) and a mountpoint that is not empty (unless
 * -o nonempty: its files would be hidden). Settings are layered: defaults,
 * then STORE/tierfs.conf, then -o options.
 *
 * Logging (log.h): in the foreground, and in the background when stderr
 * is the systemd journal, to stderr; otherwise to STORE/tierfs.log;
 * -o log=stderr|syslog|FILE chooses. A FILE is reopened on SIGHUP.
 *
 * Detaching (without -f): the process forks before the store is opened,
 * since threads do not survive fork and opening the store starts some
 * (cold read-ahead workers); the parent waits until the child reports that
 * the file system is mounted and served (exit 0) or why it is not (the
 * child's message on the same stderr, its exit status passed on).
 *
 * Readiness: if TIERFS_READY_FD names an open descriptor, "ready\n" is
 * written to it once the mount is live (tests wait on it instead of
 * sleeping); under systemd (Type=notify) READY=1 goes to $NOTIFY_SOCKET.
 * -o metrics_listen=ADDR:PORT serves /metrics over HTTP (metrics_http.h);
 * its socket is bound before the mount, so a busy port refuses the mount.
 */
#include <dirent.h>
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
#include <systemd/sd-daemon.h>

#include "config.h"
#include "fs.h"
#include "fuse_ops.h"
#include "heap_tune.h"
#include "log.h"
#include "metrics_http.h"
#include "policy.h"
#include "reqloop.h"
#include "store.h"

#define EXIT_USAGE 2
/* Worker threads of the request loop at most (libfuse's default). */
#define REQLOOP_THREADS 10

struct cmdline {
	const char *store;
	const char *mnt;
	bool foreground;
	bool debug;
	bool single;
	char *our_opts;         /* comma list of our keys, in order */
	char *fuse_opts;        /* comma list for libfuse */
	bool create;            /* -o create: make a missing explicit STORE */
	bool nonempty;          /* -o nonempty: mount over a non-empty dir */
	char *log;              /* -o log=stderr|syslog|FILE, or NULL */
	char *metrics_listen;   /* -o metrics_listen=ADDR:PORT, or NULL */
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
		"  -o create     create STORE if it does not exist\n"
		"  -o nonempty   mount over a non-empty MOUNTPOINT\n"
		"  -o log=stderr|syslog|FILE, log_level=error|warn|info|debug\n"
		"  -o metrics_listen=ADDR:PORT  serve /metrics over HTTP\n"
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

/* The daemon's own mount-time options: 1 if o is one (taken), 0 if not,
 * -EINVAL (message printed) for a bad one. */
static int daemon_opt(struct cmdline *cl, const char *key, const char *eq)
{
	bool *flag = !strcmp(key, "create") ? &cl->create :
		     !strcmp(key, "nonempty") ? &cl->nonempty : NULL;
	char **val = !strcmp(key, "log") ? &cl->log :
		     !strcmp(key, "metrics_listen") ? &cl->metrics_listen : NULL;

	if (!flag && !val)
		return 0;
	if (flag && eq) {
		fprintf(stderr, "tierfs: option '%s' takes no value\n", key);
		return -EINVAL;
	}
	if (flag) {
		*flag = true;
		return 1;
	}
	if (!eq || !eq[1]) {
		fprintf(stderr, "tierfs: option '%s' needs a value (%s=...)\n",
			key, key);
		return -EINVAL;
	}
	free(*val);
	*val = strdup(eq + 1);
	return *val ? 1 : -ENOMEM;
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
		rc = daemon_opt(cl, key, eq);
		if (rc) {
			rc = rc > 0 ? 0 : rc;
			continue;
		}
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
			int rc = split_opts(cl, v);

			if (rc)
				return rc == -EINVAL ? EXIT_USAGE : 1;
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

/* Where the log goes once the daemon runs (see the top of this file). */
enum log_choice { LOGC_STDERR, LOGC_SYSLOG, LOGC_FILE };

struct log_plan {
	enum log_choice how;
	char path[PATH_MAX];    /* LOGC_FILE */
};

/* Decide, and check that a log file can be opened, before mounting
 * anything: 0 or an exit code. */
static int log_plan(const struct cmdline *cl, const char *store,
		    struct log_plan *lp)
{
	int fd, n;

	if (cl->log && !strcmp(cl->log, "stderr")) {
		lp->how = LOGC_STDERR;
	} else if (cl->log && !strcmp(cl->log, "syslog")) {
		lp->how = LOGC_SYSLOG;
	} else if (cl->log) {
		char cwd[PATH_MAX];

		lp->how = LOGC_FILE;
		if (cl->log[0] == '/')
			n = snprintf(lp->path, sizeof(lp->path), "%s", cl->log);
		else
			n = getcwd(cwd, sizeof(cwd)) ?
				snprintf(lp->path, sizeof(lp->path), "%s/%s",
					 cwd, cl->log) : -1;
		if (n < 0 || (size_t)n >= sizeof(lp->path)) {
			fprintf(stderr, "tierfs: log file path %s too long\n",
				cl->log);
			return EXIT_USAGE;
		}
	} else if (cl->foreground || log_stderr_is_journal()) {
		lp->how = LOGC_STDERR;
	} else {
		lp->how = LOGC_FILE;
		n = snprintf(lp->path, sizeof(lp->path), "%s/tierfs.log", store);
		if (n < 0 || (size_t)n >= sizeof(lp->path))
			return EXIT_USAGE;
		return 0;       /* the store may not exist yet */
	}
	if (lp->how == LOGC_FILE) {
		fd = open(lp->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			  0640);
		if (fd < 0) {
			fprintf(stderr, "tierfs: log file %s: %s\n", lp->path,
				strerror(errno));
			return 1;
		}
		close(fd);
	}
	return 0;
}

/* After daemonizing: send the log where the plan says. */
static void log_apply(struct log_plan *lp)
{
	int rc;

	switch (lp->how) {
	case LOGC_STDERR:
		log_to_stderr();
		break;
	case LOGC_SYSLOG:
		log_to_syslog();
		break;
	case LOGC_FILE:
		rc = log_to_file(lp->path);
		if (rc)
			tfs_err("cannot log to %s: %s", lp->path, strerror(-rc));
		break;
	}
}

/* Without -f, before anything starts a thread: fork; the parent waits for
 * one byte from the child (0: mounted and served; else the exit status)
 * and exits with it, or with 1 if the child died first. The child gets
 * the pipe's write end in *fd and its own session. 0 or -errno. */
static int daemon_fork(int *fd)
{
	unsigned char st = 1;
	ssize_t n;
	pid_t pid;
	int p[2], rc;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &st, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? st : 1);
	}
	close(p[0]);
	setsid();
	*fd = p[1];
	return 0;
}

/* Tell the waiting parent (if any): 0 or an exit status. */
static void daemon_report(int *fd, int status)
{
	unsigned char st = (unsigned char)status;

	if (*fd < 0)
		return;
	if (write(*fd, &st, 1) < 0)
		tfs_warn("cannot report to the mounting process: %s",
			 strerror(errno));
	close(*fd);
	*fd = -1;
}

/* The detached daemon reads nothing and prints nothing; stderr stays
 * where the log goes (a file is already on it; syslog needs none). */
static void detach_stdio(const struct log_plan *lp)
{
	int nfd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (nfd < 0)
		return;
	dup2(nfd, STDIN_FILENO);
	dup2(nfd, STDOUT_FILENO);
	if (lp->how == LOGC_SYSLOG)
		dup2(nfd, STDERR_FILENO);
	close(nfd);
}

static const char *log_desc(const struct log_plan *lp)
{
	return lp->how == LOGC_STDERR ? "stderr" :
	       lp->how == LOGC_SYSLOG ? "syslog" : lp->path;
}

/* The type of the file system mounted on dir ("fuse.tierfs"), if one is
 * (the last such line of /proc/self/mounts); false if none. */
static bool mounted_type(const char *dir, char *type, size_t len)
{
	FILE *m = fopen("/proc/self/mounts", "re");
	char line[PATH_MAX * 2], what[PATH_MAX], where[PATH_MAX], t[64];
	bool found = false;

	if (!m)
		return false;
	while (fgets(line, sizeof(line), m))
		if (sscanf(line, "%4095s %4095s %63s", what, where, t) == 3 &&
		    !strcmp(where, dir)) {
			snprintf(type, len, "%s", t);
			found = true;
		}
	fclose(m);
	return found;
}

/* 0 if dir has no entries but . and .., 1 if it has, -errno. */
static int dir_has_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			rc = 1;
			break;
		}
	closedir(d);
	return rc;
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
	int ret;

	heap_tune_init();       /* before any thread: first of all */
	ret = parse_cmdline(argc, argv, &cl);

	if (!ret) {
		raise_fd_limit();
		ret = run(&cl);
	}
	free(cl.our_opts);
	free(cl.fuse_opts);
	free(cl.log);
	free(cl.metrics_listen);
	return ret;
}

/* Everything after the command line: 0, or an exit status. */
static int run(struct cmdline *clp)
{
	struct cmdline cl = *clp;
	struct tfs_config cfg;
	struct fuse_session *se = NULL;
	struct fs *fsp = NULL;
	struct metrics_http *mh = NULL;
	struct log_plan lp = { .how = LOGC_STDERR };
	struct policy *policy = NULL;
	char store[4096], conf[4200], err[512], mnt[PATH_MAX], cwd[PATH_MAX];
	char info[PATH_MAX + 256], maddr[128] = "off";
	struct stat st;
	sigset_t hup;
	int rc, ret = 1, mfd = -1, dfd = -1;

	/* Validate our options before touching anything. */
	log_to_stderr();
	config_defaults(&cfg);
	rc = apply_opts(&cfg, cl.our_opts);
	if (rc)
		return rc;
	if (cl.metrics_listen &&
	    metrics_http_parse(cl.metrics_listen, err, sizeof(err))) {
		fprintf(stderr, "tierfs: metrics_listen: %s\n", err);
		return EXIT_USAGE;
	}

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
		/* A mistyped STORE must not become a new, empty tree. */
		if (!cl.create && stat(store, &st) < 0 && errno == ENOENT) {
			fprintf(stderr, "tierfs: store %s does not exist "
				"(check the path, or add -o create to create "
				"it)\n", store);
			return 1;
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

	rc = dir_has_entries(cl.mnt);
	if (rc < 0) {
		fprintf(stderr, "tierfs: mountpoint %s: %s\n", cl.mnt,
			strerror(-rc));
		return 1;
	}
	if (rc && !cl.nonempty) {
		char type[64];

		if (mounted_type(cl.mnt, type, sizeof(type)))
			fprintf(stderr, "tierfs: %s is already mounted (%s); "
				"unmount it first (fusermount3 -u %s)\n",
				cl.mnt, type, cl.mnt);
		else
			fprintf(stderr, "tierfs: mountpoint %s is not empty "
				"(its files would be hidden; add -o nonempty "
				"to mount over them)\n", cl.mnt);
		return 1;
	}
	rc = log_plan(&cl, store, &lp);
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

	if (cl.metrics_listen) {
		rc = metrics_http_bind(cl.metrics_listen, &mfd, err,
				       sizeof(err));
		if (rc) {
			fprintf(stderr, "tierfs: metrics_listen: %s\n", err);
			goto out_log;
		}
		metrics_http_addr(mfd, maddr, sizeof(maddr));
	}
	if (!cl.foreground) {
		rc = daemon_fork(&dfd);
		if (rc) {
			fprintf(stderr, "tierfs: cannot fork: %s\n",
				strerror(-rc));
			goto out_log;
		}
	}
	/* SIGHUP reloads tierfs.conf: blocked in every thread, taken by the
	 * policy thread through a signalfd. Blocked before fs_mount(), which
	 * starts threads (they inherit the mask): one with SIGHUP open would
	 * take it with libfuse's handler, which ends the session. */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hup, NULL);
	log_set_level((int)cfg.log_level);
	rc = fs_mount(&fsp, store, &cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "tierfs: %s\n", err);
		goto out_log;
	}
	snprintf(info, sizeof(info), "# log = %s\n# metrics_listen = %s\n",
		 log_desc(&lp), maddr);
	if (fs_set_mount_info(fsp, info))
		goto out_unmount;
	se = new_session(&cl, store, fsp);
	if (!se)
		goto out_unmount;
	fuse_ops_set_session(se, !cl.single);
	if (fuse_set_signal_handlers(se))
		goto out_session;
	if (fs_set_overrides(fsp, cl.our_opts))
		goto out_signals;
	if (fuse_session_mount(se, cl.mnt)) {
		fprintf(stderr, "tierfs: cannot mount on %s\n", cl.mnt);
		goto out_signals;
	}
	/* Every path is absolute by now. */
	if (chdir("/") < 0)
		tfs_warn("cannot change to /: %s", strerror(errno));
	log_apply(&lp);
	if (!cl.foreground)
		detach_stdio(&lp);
	fs_note_pid(fsp);
	if (mfd >= 0) {
		rc = metrics_http_start(&mh, mfd, fsp);
		mfd = -1;       /* the server owns it now, or closed it */
		if (rc) {
			tfs_err("cannot serve metrics on %s: %s", maddr,
				strerror(-rc));
			goto out_stop;
		}
		tfs_info("serving metrics on http://%s/metrics", maddr);
	}
	tfs_info("mounted %s on %s", store, cl.mnt);
	notify_ready();
	sd_notifyf(0, "READY=1\nSTATUS=mounted %s on %s", store, cl.mnt);
	daemon_report(&dfd, 0);
	/* The policy starts once the mount is announced (its first tick may
	 * move or compact at once) and before the loop serves requests (it
	 * plugs its upcalls into the filesystem). */
	rc = policy_start(&policy, fsp);
	if (rc) {
		tfs_err("cannot start the policy thread: %s", strerror(-rc));
		goto out_stop;
	}

	if (cl.single) {
		rc = fuse_session_loop(se);
	} else {
		/* One reader at a time, the last one first (reqloop.c). */
		rc = reqloop_run(se, REQLOOP_THREADS);
		if (rc < 0)
			tfs_err("request loop: %s", strerror(-rc));
	}
	/* The loop returns the signal that ended it (SIGTERM, SIGINT): an
	 * orderly unmount like fusermount3 -u. */
	ret = rc < 0 ? 1 : 0;
	sd_notify(0, "STOPPING=1");
out_stop:
	metrics_http_stop(&mh);
	policy_stop(&policy);
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_unmount:
	fs_unmount(&fsp);
	if (ret == 0)
		tfs_info("unmounted %s", cl.mnt);
out_log:
	if (mfd >= 0)
		close(mfd);
	daemon_report(&dfd, ret ? ret : 1);
	return ret;
}
