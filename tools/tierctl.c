/*
 * tierctl.c - control of mounted tierfs filesystems: the command line
 * (commands, options, usage) and the dispatch to one file per concern:
 * tierctl_ls.c (ls, du, pins), tierctl_move.c (mv, pin, unpin, warmup),
 * tierctl_status.c (status, status --watch, config, policy),
 * tierctl_util.c (what they share, see tierctl.h).
 *
 * Exit status: 0 success; 1 an operation failed on some path (each one is
 * reported); 2 usage; 3 a path is not on a tierfs mount; the highest wins.
 */
#include "tierctl.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TIERFS_VERSION
#define TIERFS_VERSION "unknown"
#endif

#define WARMUP_JOBS 4
#define WARMUP_JOBS_MAX 64

static const char usage_text[] =
	"usage: tierctl status [-b] [--json] [--watch [SECONDS] [--count N]]"
	" [MNT]\n"
	"       tierctl ls [-abr] [--json] [PATH...]\n"
	"       tierctl du [-b] [--json] [PATH...]\n"
	"       tierctl mv|pin --to hot|warm|cold [-r] PATH...\n"
	"       tierctl unpin [-r] PATH...\n"
	"       tierctl warmup [-r] [-j N] [--to hot] PATH...\n"
	"       tierctl pins [--json] [PATH...]\n"
	"       tierctl config [--json] [MNT]\n"
	"       tierctl policy DIR [SPEC] | policy --clear DIR\n"
	"       tierctl --help | --version\n";
static const char options_text[] =
	"commands:\n"
	"  status   per-tier table of MNT/.tiers/stats (MNT: the mount of the\n"
	"           current directory, else the only tierfs mounted);\n"
	"           --watch: live rates every SECONDS (1), --count N frames\n"
	"  ls       tier, pin, size, stored, ratio, last access, reason\n"
	"  du       files and bytes per tier of each PATH (recursive), total\n"
	"  mv       move files to a tier (pinned files below a directory are\n"
	"           skipped; a pinned file named directly takes its pin along)\n"
	"  pin      pin files to a tier (and move them there); unpin: unpin\n"
	"  warmup   read files through concurrently (page cache, one access\n"
	"           each); --to hot: move them into the daemon's RAM instead\n"
	"  pins     pinned files below PATH (default: the mount)\n"
	"  config   the settings in force (MNT/.tiers/config)\n"
	"  policy   a directory's policy (user.tierfs.policy): show it and\n"
	"           where it comes from, set it to SPEC ('hot_age=10m\n"
	"           warm_age=never pin=warm'), or --clear it\n"
	"options:\n"
	"  -r, --recursive  descend into directories (same mount only)\n"
	"  -a, --all        ls: also names starting with '.'\n"
	"  -b, --bytes      exact byte counts instead of KiB/MiB/GiB\n"
	"  -j, --jobs N     warmup: N threads (default 4)\n"
	"      --json       machine-readable output (status, ls, du, pins,\n"
	"                   config, policy)\n"
	"exit status: 0 ok, 1 some path failed, 2 usage, 3 not on a tierfs mount\n";

int usage_error(const char *fmt, const char *arg)
{
	fputs("tierctl: ", stderr);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_text);
	return EXIT_USAGE;
}

enum { OPT_JSON = 256, OPT_WATCH, OPT_COUNT, OPT_CLEAR };

/* A positive number of seconds, or a count when WHOLE; -1 if not. */
static double number(const char *s, bool whole)
{
	char *end;
	double d;

	if (!s || !*s)
		return -1;
	d = strtod(s, &end);
	if (*end || d <= 0 || d > 1e7 || (whole && d != (long)d))
		return -1;
	return d;
}

/* Parse the options of a command; ALLOWED lists its short options (and
 * 'J' json, 'W' watch, 'N' count, 'C' clear). Returns 0, EXIT_USAGE after
 * a message, or -1 after printing help. */
static int parse_opts(int argc, char **argv, const char *allowed,
		      struct ctx *c)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, 't' },
		{ "recursive", no_argument, NULL, 'r' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "all", no_argument, NULL, 'a' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "watch", optional_argument, NULL, OPT_WATCH },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "clear", no_argument, NULL, OPT_CLEAR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	static const char longs[] = { [OPT_JSON - 256] = 'J',
		[OPT_WATCH - 256] = 'W', [OPT_COUNT - 256] = 'N',
		[OPT_CLEAR - 256] = 'C' };
	char bad[3] = "-?";
	int ch, key;
	double d;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":t:rbaj:h", lo, NULL)) != -1) {
		key = ch >= 256 ? longs[ch - 256] : ch;
		bad[1] = (char)(ch == '?' ? optopt : ch);
		if (ch == 'h')
			return printf("%s%s", usage_text, options_text), -1;
		if (ch == ':')
			return usage_error("option '%s' needs a value",
					   argv[optind - 1]);
		if (ch == '?' || !strchr(allowed, key))
			return usage_error("%s: unknown option",
					   ch >= 256 || (ch == '?' && !optopt) ?
					   argv[optind - 1] : bad);
		if (ch == 't')
			c->to = optarg;
		c->recursive |= ch == 'r';
		c->bytes |= ch == 'b';
		c->all |= ch == 'a';
		c->json |= ch == OPT_JSON;
		c->clear |= ch == OPT_CLEAR;
		if (ch == 'j') {
			d = number(optarg, true);
			if (d < 0 || d > WARMUP_JOBS_MAX)
				return usage_error("--jobs: '%s' is not 1..64",
						   optarg);
			c->jobs = (int)d;
		}
		if (ch == OPT_WATCH) {
			c->watch = optarg ? number(optarg, false) : 1;
			if (c->watch < 0)
				return usage_error("--watch: '%s' is not a "
						   "number of seconds", optarg);
			/* `--watch 2`: SECONDS as the next word */
			if (!optarg && optind < argc &&
			    number(argv[optind], false) > 0 &&
			    access(argv[optind], F_OK))
				c->watch = number(argv[optind++], false);
		}
		if (ch == OPT_COUNT) {
			d = number(optarg, true);
			if (d < 0)
				return usage_error("--count: '%s' is not a "
						   "positive number", optarg);
			c->count = (long)d;
		}
	}
	if (c->count && !c->watch)
		return usage_error("%s needs --watch", "--count");
	return 0;
}

int main(int argc, char **argv)
{
	enum { C_STATUS, C_LS, C_MV, C_PIN, C_UNPIN, C_DU, C_WARMUP, C_PINS,
	       C_CONFIG, C_POLICY };
	static const char *const cmds[][2] = {
		[C_STATUS] = { "status", "bJWN" }, [C_LS] = { "ls", "abrJ" },
		[C_MV] = { "mv", "tr" }, [C_PIN] = { "pin", "tr" },
		[C_UNPIN] = { "unpin", "r" }, [C_DU] = { "du", "rbJ" },
		[C_WARMUP] = { "warmup", "trj" }, [C_PINS] = { "pins", "J" },
		[C_CONFIG] = { "config", "J" },
		[C_POLICY] = { "policy", "CJ" } };
	char *def[] = { (char *)"." }, **paths;
	struct ctx c = { .jobs = WARMUP_JOBS };
	const char *cmd = argc > 1 ? argv[1] : "";
	int ci = -1, rc, n;

	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
		return printf("%s%s", usage_text, options_text), 0;
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V"))
		return printf("tierctl %s\n", TIERFS_VERSION), 0;
	for (int i = 0; i < (int)(sizeof(cmds) / sizeof(cmds[0])); i++)
		ci = strcmp(cmd, cmds[i][0]) ? ci : i;
	if (ci < 0)
		return usage_error(*cmd ? "unknown command '%s'" :
				   "missing command%s", cmd);
	rc = parse_opts(argc - 1, argv + 1, cmds[ci][1], &c);
	if (rc)
		return rc < 0 ? 0 : rc;
	n = argc - 1 - optind;
	paths = argv + 1 + optind;
	if ((ci == C_MV || ci == C_PIN) && !c.to)
		return usage_error("%s: --to hot|warm|cold is required", cmd);
	if (c.to && tier_index(c.to) < 0)
		return usage_error("invalid tier '%s' (hot, warm or cold)",
				   c.to);
	if (n == 0 && (ci == C_MV || ci == C_PIN || ci == C_UNPIN ||
		       ci == C_WARMUP || ci == C_POLICY))
		return usage_error("%s: missing PATH", cmd);
	if (n == 0 && (ci == C_LS || ci == C_DU)) {	/* like ls(1), du(1) */
		n = 1;
		paths = def;
	}
	switch (ci) {
	case C_STATUS: rc = cmd_status(&c, n, paths); break;
	case C_LS: rc = cmd_ls(&c, n, paths); break;
	case C_DU: rc = cmd_du(&c, n, paths); break;
	case C_WARMUP: rc = cmd_warmup(&c, n, paths); break;
	case C_PINS: rc = cmd_pins(&c, n, paths); break;
	case C_CONFIG: rc = cmd_config(&c, n, paths); break;
	case C_POLICY: rc = cmd_policy(&c, n, paths); break;
	default:
		rc = cmd_set(&c, n, paths, ci == C_MV ? "tier" : "pin",
			     ci == C_UNPIN ? "none" : c.to);
	}
	items_free(&c);
	if (fflush(stdout) && rc < EXIT_FAILED)
		rc = EXIT_FAILED;
	return rc;
}
