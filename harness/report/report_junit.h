/*
 * harness/report/report_junit.h - JUnit XML, the report format CI systems render.
 */
#ifndef RDV_HARNESS_REPORT_JUNIT_H
#define RDV_HARNESS_REPORT_JUNIT_H

#include <stddef.h>

typedef struct rdv_junit_case {
    char classname[256];
    char name[256];
    double seconds;
    int failed;
    int skipped;
    char message[512]; /* short: which checks failed */
    char *text;        /* long: details and the replay line; may be NULL */
} rdv_junit_case;

/* Writes one <testsuite> holding cases to path. Returns 0, or -1 with a
 * message naming the path in err. */
int rdv_junit_write(const char *path, const char *suite,
                    const rdv_junit_case *cases, size_t n, char *err,
                    size_t errlen);

#endif
