#ifndef REDTUN_IAM_CLI_H
#define REDTUN_IAM_CLI_H

/* Exit statuses of "redtun token". */
#define IAM_CLI_CONFIG		1	/* no usable CONFIG or SERVICE */
#define IAM_CLI_NO_CREDS	2	/* no AWS credentials, or no token */

/* Each credential HTTP request of "redtun token" is bounded by this. */
#define IAM_CLI_TIMEOUT_MS	2000

/**
 * iam_cli_token(path, service, format):
 * "redtun token": load the configuration ${path} (conf_format ${format}),
 * find the service ${service} (it must have iamUser), and print one fresh
 * token and a newline on stdout, nothing else; errors go to stderr as
 * "redtun: ...".  Returns the exit status: 0, IAM_CLI_CONFIG or
 * IAM_CLI_NO_CREDS.  Blocks (credential fetches, each bounded by
 * IAM_CLI_TIMEOUT_MS).
 */
int iam_cli_token(const char *path, const char *service, int format);

#endif
