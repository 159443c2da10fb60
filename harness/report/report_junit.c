/*
 * harness/report/report_junit.c - the JUnit XML writer.
 *
 * The common denominator that Jenkins, GitLab and GitHub renderers all
 * read: <testsuites><testsuite tests failures errors skipped time> with
 * one <testcase classname name time> each, and a <failure message> (a
 * check failed) or <error message> (could not run) whose text carries
 * the details and the replay line. tests/harness/junit.xsd is the schema
 * a test validates every report against. The file is written beside its
 * final name and renamed, so a reader never sees half of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rdv/url.h"

#include "report/report_junit.h"
#include "common/text_escape.h"

static void write_case(FILE *f, const rdv_junit_case *c)
{
    fputs("    <testcase classname=\"", f);
    rdv_xml_put_escaped(f, c->classname);
    fputs("\" name=\"", f);
    rdv_xml_put_escaped(f, c->name);
    fprintf(f, "\" time=\"%.3f\"", c->seconds);
    const char *tag = c->error ? "error" : c->failed ? "failure"
                      : c->skipped ? "skipped" : NULL;

    if (!tag) {
        fputs("/>\n", f);
        return;
    }
    fprintf(f, ">\n      <%s message=\"", tag);
    rdv_xml_put_escaped(f, c->message);
    fputs("\">", f);
    /* GitLab shows the body, not the message: never leave it empty. */
    rdv_xml_put_escaped(f, c->text && *c->text ? c->text : c->message);
    fprintf(f, "</%s>\n    </testcase>\n", tag);
}

int rdv_junit_write(const char *path, const char *suite,
                    const rdv_junit_case *cases, size_t n, char *err,
                    size_t errlen)
{
    char tmp[4200];
    size_t failures = 0, errors = 0, skipped = 0;
    double total = 0;
    FILE *f;
    int bad;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!(f = fopen(tmp, "we"))) {
        snprintf(err, errlen, "--junit %s: %s", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        errors += cases[i].error != 0;
        failures += cases[i].failed != 0 && !cases[i].error;
        skipped += cases[i].skipped != 0 && !cases[i].failed &&
                   !cases[i].error;
        total += cases[i].seconds;
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", f);
    fputs("  <testsuite name=\"", f);
    rdv_xml_put_escaped(f, suite);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "skipped=\"%zu\" time=\"%.3f\">\n", n, failures, errors, skipped,
            total);
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

int rdv_junit_check_path(const char *path, char *err, size_t errlen)
{
    char tmp[4200];
    struct stat st;
    int fd;

    if (!*path) {
        snprintf(err, errlen, "--junit: the path is empty");
        return -1;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "--junit %s: is a directory", path);
        return -1;
    }
    /* The file the writer will make, made and removed now. */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) {
        snprintf(err, errlen, "--junit %s: cannot write there: %s", path,
                 strerror(errno));
        return -1;
    }
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    return 0;
}

/* Appends text to buf at *o, every byte outside [A-Za-z0-9_-] as '_'. */
static void label_put(char *buf, size_t cap, size_t *o, const char *text,
                      size_t len)
{
    for (size_t i = 0; i < len && *o + 1 < cap; i++) {
        char ch = text[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';

        buf[(*o)++] = ok ? ch : '_';
    }
    buf[*o] = '\0';
}

static int secret_key(const char *k)
{
    return strcmp(k, "password") == 0 || strcmp(k, "token") == 0 ||
           strcmp(k, "user") == 0;
}

void rdv_junit_store_label(const char *url, char *buf, size_t cap)
{
    rdv_url u;
    size_t o = 0;

    if (!cap)
        return;
    buf[0] = '\0';
    if (rdv_url_parse(url, &u, NULL, 0)) {
        snprintf(buf, cap, "store");
        return;
    }
    label_put(buf, cap, &o, u.scheme, strlen(u.scheme));
    if (strcmp(u.scheme, "plugin") == 0 || strcmp(u.scheme, "exec") == 0) {
        const char *base = strrchr(u.path, '/');

        base = base ? base + 1 : u.path;
        label_put(buf, cap, &o, "-", 1);
        label_put(buf, cap, &o, base, strcspn(base, "."));
    }
    for (size_t i = 0; i < u.noptions; i++) {
        const rdv_url_opt *opt = &u.options[i];

        if (secret_key(opt->key) || (opt->value && strchr(opt->value, '/')))
            continue;
        label_put(buf, cap, &o, "_", 1);
        label_put(buf, cap, &o, opt->key, strlen(opt->key));
        if (opt->value && *opt->value) {
            label_put(buf, cap, &o, "-", 1);
            label_put(buf, cap, &o, opt->value, strlen(opt->value));
        }
    }
    rdv_url_free(&u);
}
