#ifndef REDTUN_RELOAD_H
#define REDTUN_RELOAD_H

#include <stddef.h>

#include <uv.h>

struct conf;
struct svc;

/*
 * A reloader runs the expensive part of a reload (read the file, build
 * every generation with its TLS context, key checks and delay = false name
 * lookups, then the caller's prepare step) on libuv's thread pool, so no
 * loop that carries connections waits for it, and hands the result to the
 * caller's commit on the loop.  One reload at a time; SIGHUPs that arrive
 * during one are coalesced into one more after it.
 */
struct reloader;

struct reloader_ops {
	/*
	 * On a pool thread, after every generation was built: whatever the
	 * commit needs (e.g. bound sockets), or NULL with the reason in
	 * ${why}.  It must read only what the caller leaves unchanged while
	 * a reload is out.
	 */
	void *(*prepare)(void *arg, const struct conf *cf, struct svc **svcs,
	    size_t n, char *why, size_t whylen);
	/* On the loop: everything is ready; ownership of ${cf}, ${svcs}
	 * (one reference each) and ${prepared} passes. */
	void (*commit)(void *arg, struct conf *cf, struct svc **svcs,
	    size_t n, void *prepared);
	/* On the loop: release what prepare() returned (never committed). */
	void (*discard)(void *arg, void *prepared);
	/* On the loop, after reloader_stop(): the last job is gone. */
	void (*idle)(void *arg);
	/* On the loop: a reload (not a refresh) failed because of ${why}
	 * (valid during the call).  May be NULL. */
	void (*failed)(void *arg, const char *why);
};

/**
 * reloader_new(loop, path, format, ops, arg):
 * A reloader for the configuration file ${path} (read as ${format}, enum
 * conf_format) that runs its jobs from
 * ${loop} and calls ${ops} with ${arg}; ${path}, ${ops} and ${arg} must
 * outlive it.  NULL if out of memory.
 */
struct reloader *reloader_new(uv_loop_t *loop, const char *path,
    int format, const struct reloader_ops *ops, void *arg);

/**
 * reloader_request(r):
 * Reload (SIGHUP): start a job, or, if one is out, note that another must
 * follow it.  A reload that fails logs "reload failed, keeping the old
 * configuration: FILE:LINE: ..." and changes nothing.
 */
void reloader_request(struct reloader *r);

/**
 * reloader_refresh(r):
 * A topology refresh (cluster services): a job like a reload that reads
 * no file: prepare() gets ${cf} NULL and no services, commit() the same;
 * its failure is logged as a failed refresh.  Requested while a job is
 * out, it runs after that job (several such requests: once).
 */
void reloader_refresh(struct reloader *r);

/**
 * reloader_stop(r):
 * Shutting down: no further reload; a job not started yet is cancelled, a
 * running one gives up at its next service, and what it built is released
 * on the loop (whose run it keeps alive until then) without a commit.
 */
void reloader_stop(struct reloader *r);

/* reloader_reloading(r): a reload (not a refresh) is being prepared. */
int reloader_reloading(const struct reloader *r);

/* reloader_busy(r): a job is out (its pool thread may still be running). */
int reloader_busy(const struct reloader *r);

/**
 * reloader_free(r):
 * Free ${r}; NULL-safe.  No job may be out: call it after the loop has
 * run to its end (or if no reload was ever requested).
 */
void reloader_free(struct reloader *r);

#endif
