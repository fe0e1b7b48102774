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

/* aws_creds_printable(s, n): whether ${s} is printable ASCII only. */
int aws_creds_printable(const char *s, size_t n);

#endif
