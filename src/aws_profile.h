#ifndef REDTUN_AWS_PROFILE_H
#define REDTUN_AWS_PROFILE_H

/*
 * The shared credentials file's reader, inside the credentials module
 * (aws_creds.c reads the file, aws_profile.c parses it).
 */

#include <stddef.h>

struct aws_creds;

/**
 * aws_profile_parse(text, len, profile, path, c, seen, why, whylen):
 * aws_creds_parse_ini, also telling in ${*seen} whether the section
 * [${profile}] exists (it may, and still return 0: no aws_access_key_id,
 * which the SDKs skip as "not configured").  On 0 ${why} says which.
 */
int aws_profile_parse(const char *text, size_t len, const char *profile,
    const char *path, struct aws_creds *c, int *seen, char *why,
    size_t whylen);

#define AWS_CONTAINER_TOKEN_MAX	16384

/**
 * aws_creds_container_token(file, buf, why, whylen):
 * The container authorization token of ${file} into ${buf}
 * (AWS_CONTAINER_TOKEN_MAX + 1 bytes; the caller wipes it): read now and
 * kept, or, when ${file} cannot be read, the one last kept from it.  0,
 * or -1 with ${why} (no such file and none kept; not a legal header value).
 */
int aws_creds_container_token(const char *file, char *buf, char *why,
    size_t whylen);

/* aws_creds_token_legal(tok): whether ${tok} can be a header value. */
int aws_creds_token_legal(const char *tok);

/**
 * aws_creds_token_file_load():
 * Read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, if set, and keep its token
 * for the fetches that can no longer read the file.  Errors
 * are left for the fetch to report.  Blocks on a file read.
 */
void aws_creds_token_file_load(void);

/* aws_creds_printable(s, n): whether ${s} is printable ASCII only. */
int aws_creds_printable(const char *s, size_t n);

#endif
