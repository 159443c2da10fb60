/*
 * harness/report/report_junit.c - the JUnit XML writer.
 *
 * The common denominator that Jenkins, GitLab and GitHub renderers all
 * read: <testsuites><testsuite tests failures skipped time> with one
 * <testcase classname name time> each, and a <failure message> whose
 * text carries the details and the replay line. The file is written
 * beside its final name and renamed, so a reader never sees half of it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "report/report_junit.h"
#include "common/text_escape.h"

static void write_case(FILE *f, const rdv_junit_case *c)
{
    fputs("    <testcase classname=\"", f);
    rdv_xml_put_escaped(f, c->classname);
    fputs("\" name=\"", f);
    rdv_xml_put_escaped(f, c->name);
    fprintf(f, "\" time=\"%.3f\"", c->seconds);
    if (!c->failed && !c->skipped) {
        fputs("/>\n", f);
        return;
    }
    fputs(">\n", f);
    if (c->failed) {
        fputs("      <failure message=\"", f);
        rdv_xml_put_escaped(f, c->message);
        fputs("\">", f);
    } else {
        fputs("      <skipped message=\"", f);
        rdv_xml_put_escaped(f, c->message);
        fputs("\">", f);
    }
    rdv_xml_put_escaped(f, c->text ? c->text : "");
    fputs(c->failed ? "</failure>\n" : "</skipped>\n", f);
    fputs("    </testcase>\n", f);
}

int rdv_junit_write(const char *path, const char *suite,
                    const rdv_junit_case *cases, size_t n, char *err,
                    size_t errlen)
{
    char tmp[4200];
    size_t failures = 0, skipped = 0;
    double total = 0;
    FILE *f;
    int bad;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!(f = fopen(tmp, "we"))) {
        snprintf(err, errlen, "--junit %s: %s", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        failures += cases[i].failed != 0;
        skipped += cases[i].skipped != 0 && !cases[i].failed;
        total += cases[i].seconds;
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", f);
    fputs("  <testsuite name=\"", f);
    rdv_xml_put_escaped(f, suite);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
            "skipped=\"%zu\" time=\"%.3f\">\n", n, failures, skipped, total);
    for (size_t i = 0; i < n; i++)
        write_case(f, &cases[i]);
    fputs("  </testsuite>\n</testsuites>\n", f);
    bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        snprintf(err, errlen, "--junit %s: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}
