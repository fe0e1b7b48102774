/*
 * redtun: a TLS tunnel for Redis.  Startup order: read and check the whole
 * configuration (exit 1 on any problem), build every TLS context, then go
 * to the background, bind, drop privileges and write the pidfile (exit 2
 * if any of that fails).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "config.h"
#include "check.h"
#include "probe.h"
#include "conf.h"
#include "conf_print.h"
#include "daemon.h"
#include "iam_cli.h"
#include "log.h"
#include "log_json.h"
#include "notify.h"
#include "runtime.h"
#include "service.h"
#include "status_cli.h"
#include "tls.h"

#define EXIT_CONFIG	1
#define EXIT_STARTUP	2

static void
usage(FILE *f)
{

	fprintf(f,
	    "usage: redtun [-f|--foreground] [-t|--test-config] "
	    "[-d|--debug LEVEL]\n"
	    "              [--format stunnel|libconfig] CONFIG\n"
	    "       redtun [-t] -p|--probe CONFIG\n"
	    "       redtun -t --print-effective CONFIG\n"
	    "       redtun --convert STUNNEL-CONFIG\n"
	    "       redtun status [--json] [--format FORMAT] [CONFIG]\n"
	    "       redtun token [--format FORMAT] CONFIG SERVICE\n"
	    "       redtun -V|--version\n"
	    "       redtun -h|--help\n"
	    "\n"
	    "  -f, --foreground   stay in the foreground, log to stderr unless"
	    " 'output' is set\n"
	    "  -t, --test-config  check CONFIG as start would (accounts, pid and "
	    "log\n"
	    "                     directories, files readable at reload) and "
	    "exit\n"
	    "  -p, --probe        after -t, do a TLS handshake with every "
	    "connect target\n"
	    "                     and PING it; exit 1 unless all verify\n"
	    "  -d, --debug LEVEL  log level 0..7 or emerg..debug, overriding "
	    "'debug'\n"
	    "  --format FORMAT    read CONFIG as stunnel's format or libconfig"
	    " (default:\n"
	    "                     by its content)\n"
	    "  --print-effective  after -t, print every setting as it will "
	    "run\n"
	    "  --convert FILE     print a stunnel file as redtun's libconfig "
	    "format\n"
	    "  status             ask the daemon of CONFIG (default "
	    STATUS_CLI_DEFAULT_CONFIG ")\n"
	    "                     at its 'status' address; exit 0 healthy, "
	    "1 unhealthy,\n"
	    "                     2 unreachable, 3 no usable CONFIG\n"
	    "  --json             with status: print the daemon's JSON\n"
	    "  token              print a fresh ElastiCache IAM token for "
	    "SERVICE (iamUser),\n"
	    "                     e.g. redis-cli --user U --pass \"$(redtun "
	    "token CONFIG S)\";\n"
	    "                     exit 1 no usable CONFIG or SERVICE, 2 no "
	    "AWS credentials\n"
	    "  -V, --version      print versions and exit\n"
	    "  -h, --help         print this help and exit\n"
	    "\n"
	    "Signals: HUP reloads CONFIG, USR1 reopens the log, TERM/INT stop."
	    "\nSee redtun(8) and redtun.conf(5).\n");
}

static void
version(void)
{
	char tls[128];

	printf("redtun %s\n%s\nlibuv %s\n", PACKAGE_VERSION,
	    tls_version_info(tls, sizeof(tls)), uv_version_string());
}

/*
 * stunnel's single-dash words: the portable ones are mapped, the others
 * refused by name (getopt would read "-fd" as -f -d).  Returns -1 to go
 * on, or the exit status.
 */
static int
stunnel_words(int argc, char *argv[])
{
	static const char *const windows[] = {
		"-install", "-uninstall", "-start", "-stop", "-reload",
		"-reopen", "-exit", "-quiet",
	};
	int i;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-version") == 0) {
			version();
			return (0);
		}
		if (strcmp(argv[i], "-help") == 0) {
			usage(stdout);
			return (0);
		}
		if (strcmp(argv[i], "-fd") == 0) {
			fprintf(stderr, "redtun: -fd (reading the configuration "
			    "from a file descriptor) is not supported: name the "
			    "file, and redtun can read it again on SIGHUP\n");
			return (EXIT_CONFIG);
		}
		if (strcmp(argv[i], "-sockets") == 0 ||
		    strcmp(argv[i], "-options") == 0) {
			fprintf(stderr, "redtun: %s lists stunnel's OpenSSL "
			    "settings; redtun has no such settings: see "
			    "redtun.conf(5)\n", argv[i]);
			return (EXIT_CONFIG);
		}
		for (k = 0; k < sizeof(windows) / sizeof(windows[0]); k++) {
			if (strcmp(argv[i], windows[k]) == 0) {
				fprintf(stderr, "redtun: %s is a Windows service "
				    "option of stunnel; here use systemctl, or "
				    "signals: HUP reloads, USR1 reopens the log, "
				    "TERM stops\n", argv[i]);
				return (EXIT_CONFIG);
			}
		}
	}
	return (-1);
}

/*
 * The subcommand ${word} ("status", "token"): the first operand, found as
 * getopt would (the options -d and --format take the next argument), so
 * that options may stand before or after it.  Returns its index, or 0.  A
 * configuration file named "status" is read as "./status".
 */
static int
command_word(int argc, char *argv[], const char *word)
{
	const char *d;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			i++;
		else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			if (argv[i][1] == '-') {
				if (strcmp(argv[i], "--debug") == 0 ||
				    strcmp(argv[i], "--format") == 0)
					i++;
			} else if ((d = strchr(argv[i], 'd')) != NULL &&
			    d[1] == '\0')
				i++;	/* "-d LEVEL", "-fd LEVEL" */
			continue;
		}
		return (i < argc && strcmp(argv[i], word) == 0 ? i : 0);
	}
	return (0);
}

/* Notices about a stunnel file, to stderr, or the log when that is it. */
static void
notices(const struct conf *cf, int to_log)
{
	size_t i;

	for (i = 0; i < cf->nnotices; i++) {
		if (to_log)
			log_msg(LOG_LVL_NOTICE, NULL, "%s", cf->notices[i]);
		else
			fprintf(stderr, "redtun: notice: %s\n",
			    cf->notices[i]);
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "test-config", no_argument, NULL, 't' },
		{ "probe", no_argument, NULL, 'p' },
		{ "debug", required_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "format", required_argument, NULL, 'F' },
		{ "convert", no_argument, NULL, 'C' },
		{ "print-effective", no_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 }
	};
	char why[512], *path;
	struct conf *cf;
	struct svc **svcs;
	int c, foreground = 0, test = 0, probe = 0, debug = -1, status;
	int format = CONF_FORMAT_AUTO, convert = 0, print = 0;
	int cmd_status, cmd_token = 0, json = 0;
	size_t i;

	if ((status = stunnel_words(argc, argv)) >= 0)
		return (status);
	/* "redtun status|token ...": the word out of getopt's way. */
	if ((cmd_status = command_word(argc, argv, "status")) > 0 ||
	    (cmd_token = command_word(argc, argv, "token")) > 0) {
		c = cmd_status > 0 ? cmd_status : cmd_token;
		memmove(&argv[c], &argv[c + 1],
		    (size_t)(argc - c) * sizeof(argv[0]));
		argc--;
	}
	while ((c = getopt_long(argc, argv, "ftpd:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': foreground = 1; break;
		case 't': test = 1; break;
		case 'p': test = probe = 1; break;
		case 'd':
			if (log_level_parse(optarg, &debug)) {
				fprintf(stderr, "redtun: -d: expected 0..7 or a "
				    "level name, got \"%s\"\n", optarg);
				return (EXIT_CONFIG);
			}
			break;
		case 'F':
			if (conf_format_parse(optarg, &format)) {
				fprintf(stderr, "redtun: --format: expected "
				    "stunnel or libconfig, got \"%s\"\n",
				    optarg);
				return (EXIT_CONFIG);
			}
			break;
		case 'C': convert = 1; break;
		case 'P': print = test = 1; break;
		case 'J': json = 1; break;
		case 'V': version(); return (0);
		case 'h': usage(stdout); return (0);
		default:
			usage(stderr);
			return (cmd_status ? STATUS_CLI_CONFIG : EXIT_CONFIG);
		}
	}
	if (cmd_status) {
		if (foreground || test || convert || debug >= 0 ||
		    optind + 1 < argc) {
			fprintf(stderr, "redtun: status takes --json, --format "
			    "and one CONFIG\n");
			return (STATUS_CLI_CONFIG);
		}
		/* A peer that vanishes must be an error code, not a signal. */
		signal(SIGPIPE, SIG_IGN);
		return (status_cli(optind < argc ? argv[optind] :
		    STATUS_CLI_DEFAULT_CONFIG, json, format));
	}
	if (cmd_token) {
		if (foreground || test || convert || debug >= 0 || json ||
		    optind + 2 != argc) {
			fprintf(stderr, "redtun: token takes --format, CONFIG "
			    "and SERVICE\n");
			return (IAM_CLI_CONFIG);
		}
		signal(SIGPIPE, SIG_IGN);
		return (iam_cli_token(argv[optind], argv[optind + 1], format));
	}
	if (json) {
		fprintf(stderr, "redtun: --json goes with redtun status\n");
		return (EXIT_CONFIG);
	}
	if (optind != argc - 1) {
		usage(stderr);
		return (EXIT_CONFIG);
	}
	if (convert) {
		if (conf_convert(argv[optind], format, stdout, why,
		    sizeof(why))) {
			fprintf(stderr, "redtun: %s\n", why);
			return (EXIT_CONFIG);
		}
		return (0);
	}
	/* A peer that vanishes must be an error code, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (tls_init()) {
		fprintf(stderr, "redtun: cannot initialise wolfSSL\n");
		return (EXIT_STARTUP);
	}
	log_open(NULL, 1, debug >= 0 ? debug : LOG_LVL_NOTICE);
	/* The daemon runs in "/", and SIGHUP must find the file again. */
	if ((path = realpath(argv[optind], NULL)) == NULL)
		path = strdup(argv[optind]);
	if (path == NULL)
		return (EXIT_STARTUP);
	if ((cf = conf_load(path, format, why, sizeof(why))) == NULL) {
		fprintf(stderr, "redtun: %s\n", why);
		free(path);
		tls_shutdown();
		return (EXIT_CONFIG);
	}
	log_set_level(debug >= 0 ? debug : cf->debug);
	log_set_formatter(cf->log_json ? log_json_line : NULL);
	log_set_facility(cf->facility);
	foreground |= cf->foreground;
	/* Printed before the log is open; a daemon also logs them below. */
	if (test || !foreground || cf->output != NULL)
		notices(cf, 0);
	if ((svcs = calloc(cf->nsvcs, sizeof(*svcs))) == NULL)
		return (EXIT_STARTUP);
	for (i = 0; i < cf->nsvcs; i++) {
		svcs[i] = svc_new(cf->svcs[i], why, sizeof(why));
		cf->svcs[i] = NULL;
		if (svcs[i] == NULL) {
			fprintf(stderr, "redtun: %s\n", why);
			status = EXIT_CONFIG;
			goto done;
		}
	}
	if (test) {
		const struct svc_conf **scs;

		if ((scs = calloc(cf->nsvcs ? cf->nsvcs : 1,
		    sizeof(*scs))) == NULL) {
			status = EXIT_STARTUP;
			goto done;
		}
		for (i = 0; i < cf->nsvcs; i++)
			scs[i] = svc_conf(svcs[i]);
		status = 0;
		if (check_start(cf, scs, cf->nsvcs, path) != 0)
			status = EXIT_CONFIG;
		else {
			/* With --print-effective, stdout is the settings. */
			fprintf(print ? stderr : stdout, "%s: configuration "
			    "OK (%zu services)\n", path, cf->nsvcs);
			if (print)
				conf_print(stdout, cf, scs, cf->nsvcs);
			if (probe) {
				fflush(stdout);
				printf("\n");
				status = probe_targets(scs, cf->nsvcs);
			}
		}
		free(scs);
		goto done;
	}
	if (cf->pid != NULL && cf->pid[0] != '\0') {
		/* The pidfile is written after chroot, so it lives in the jail. */
		char pidpath[4096];

		snprintf(pidpath, sizeof(pidpath), "%s%s", cf->chroot ?
		    cf->chroot : "", cf->pid);
		if (daemon_pidfile_check(pidpath, why, sizeof(why))) {
			fprintf(stderr, "redtun: %s\n", why);
			status = EXIT_STARTUP;
			goto done;
		}
	}
	if (!foreground) {
		switch (daemon_fork(&status)) {
		case 0:
			break;
		case 1:
			goto done;	/* the parent: the child reported */
		default:
			perror("redtun: fork");
			status = EXIT_STARTUP;
			goto done;
		}
	}
	if (cf->output != NULL || !foreground) {
		/* syslog = no: stunnel's daemon then logs nowhere. */
		const char *out = cf->output != NULL ? cf->output :
		    !cf->syslog ? "/dev/null" : NULL;

		if (log_open(out, foreground, debug >= 0 ? debug :
		    cf->debug)) {
			fprintf(stderr, "redtun: cannot open log file %s: %m\n",
			    cf->output);
			daemon_fail(EXIT_STARTUP);
			status = EXIT_STARTUP;
			goto done;
		}
	}
	notices(cf, 1);
	/* Before chroot hides the socket's path. */
	if (notify_init() != 0)
		log_msg(LOG_LVL_WARNING, NULL, "NOTIFY_SOCKET is neither an "
		    "absolute path nor @abstract: not notifying");
	status = runtime_run(path, cf, svcs, foreground, debug);
	notify_close();
	free(svcs);
	free(path);
	log_close();
	tls_shutdown();
	return (status);
done:
	for (i = 0; i < cf->nsvcs; i++)
		svc_unref(svcs[i]);
	free(svcs);
	conf_free(cf);
	free(path);
	tls_shutdown();
	return (status);
}
