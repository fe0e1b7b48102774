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
#include "daemon.h"
#include "log.h"
#include "runtime.h"
#include "service.h"
#include "tls.h"

#define EXIT_CONFIG	1
#define EXIT_STARTUP	2

static void
usage(FILE *f)
{

	fprintf(f,
	    "usage: redtun [-f|--foreground] [-t|--test-config] "
	    "[-d|--debug LEVEL] CONFIG\n"
	    "       redtun [-t] -p|--probe CONFIG\n"
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
		{ NULL, 0, NULL, 0 }
	};
	char why[512], *path;
	struct conf *cf;
	struct svc **svcs;
	int c, foreground = 0, test = 0, probe = 0, debug = -1, status;
	size_t i;

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
		case 'V': version(); return (0);
		case 'h': usage(stdout); return (0);
		default: usage(stderr); return (EXIT_CONFIG);
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return (EXIT_CONFIG);
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
	if ((cf = conf_load(path, why, sizeof(why))) == NULL) {
		fprintf(stderr, "redtun: %s\n", why);
		free(path);
		tls_shutdown();
		return (EXIT_CONFIG);
	}
	log_set_level(debug >= 0 ? debug : cf->debug);
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
			printf("%s: configuration OK (%zu services)\n", path,
			    cf->nsvcs);
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
		if (log_open(cf->output, foreground, debug >= 0 ? debug :
		    cf->debug)) {
			fprintf(stderr, "redtun: cannot open log file %s: %m\n",
			    cf->output);
			daemon_fail(EXIT_STARTUP);
			status = EXIT_STARTUP;
			goto done;
		}
	}
	status = runtime_run(path, cf, svcs, foreground, debug);
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
