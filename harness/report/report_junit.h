/*
 * harness/report/report_junit.h - JUnit XML, the report format CI systems render.
 */
#ifndef RDV_HARNESS_REPORT_JUNIT_H
#define RDV_HARNESS_REPORT_JUNIT_H

#include <stddef.h>

/* One testcase. Names follow one scheme in run, matrix and conform:
 * classname "rdv.<command>.<store label>" (rdv_junit_store_label: no dots,
 * no temp paths, no secrets, so Jenkins reads package "rdv.<command>" and
 * a class per store, and the names stay the same from build to build);
 * name what was judged, with N, seed and scenario where they apply. */
typedef struct rdv_junit_case {
    char classname[256];
    char name[256];
    double seconds;
    int failed;  /* <failure>: a check failed, the store is wrong */
    int error;   /* <error>: could not run (store unreachable, resources) */
    int skipped;
    char message[512]; /* short: which checks failed */
    char *text;        /* long: details and the replay line; may be NULL */
} rdv_junit_case;

/* Writes one <testsuite> holding cases to path. Returns 0, or -1 with a
 * message naming the path in err. */
int rdv_junit_write(const char *path, const char *suite,
                    const rdv_junit_case *cases, size_t n, char *err,
                    size_t errlen);

/* Before a run: 0 when a report can be written at path (its directory
 * exists and takes a new file, and path is not a directory), else -1
 * with "--junit PATH: why" in err. Leaves nothing behind. */
int rdv_junit_check_path(const char *path, char *err, size_t errlen);

/* The store part of a classname: the scheme, a plugin's or adapter's
 * file name, and the URL's options as _key-value, with everything but
 * letters, digits, '-' and '_' made '_'. Hosts, ports, paths, options
 * whose value is a path, and secrets (password, token, user) are left
 * out: "hash:?shared=1&prefix=p" is "hash_shared-1_prefix-p",
 * "file:///tmp/x?prefix=p" "file_prefix-p", "redis://:pw@h:7/0" "redis",
 * "plugin:./b/librdv_sqlite_store.so?db=/tmp/d" "plugin-librdv_sqlite_store".
 * An unparsable URL gives "store". */
void rdv_junit_store_label(const char *url, char *buf, size_t cap);

#endif
