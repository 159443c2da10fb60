/*
 * tests/harness/test_text_escape.c - JSON and XML escaping of untrusted
 * text: valid UTF-8 kept as it is, every other byte escaped or replaced,
 * control characters never raw.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text_escape.h"

typedef void (*put_fn)(FILE *f, const char *s);

static char *put(put_fn fn, const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    cr_assert(f);
    fn(f, s);
    cr_assert_eq(fclose(f), 0);
    return buf;
}

static void expect(put_fn fn, const char *in, const char *want)
{
    char *got = put(fn, in);

    cr_expect_str_eq(got, want, "escaping '%s'", in);
    free(got);
}

Test(utf8, valid_sequences_and_what_is_not)
{
    cr_expect_eq(rdv_utf8_valid_len((const unsigned char *)"a"), 1);
    cr_expect_eq(rdv_utf8_valid_len((const unsigned char *)"\xc3\xbc"), 2);
    cr_expect_eq(rdv_utf8_valid_len((const unsigned char *)"\xe2\x82\xac"),
                 3);
    cr_expect_eq(rdv_utf8_valid_len(
                     (const unsigned char *)"\xf0\x9f\x98\x80"), 4);
    /* a stray continuation, a truncated one, overlong '/', a surrogate,
     * past U+10FFFF, and 0xff */
    cr_expect_eq(rdv_utf8_valid_len((const unsigned char *)"\xbc"), 0);
    cr_expect_eq(rdv_utf8_valid_len((const unsigned char *)"\xc3"), 0);
    cr_expect_eq(rdv_utf8_valid_len((const unsigned char *)"\xc0\xaf"), 0);
    cr_expect_eq(rdv_utf8_valid_len((const unsigned char *)"\xed\xa0\x80"),
                 0);
    cr_expect_eq(rdv_utf8_valid_len(
                     (const unsigned char *)"\xf4\x90\x80\x80"), 0);
    cr_expect_eq(rdv_utf8_valid_len((const unsigned char *)"\xff"), 0);
}

Test(json, keeps_utf8_and_escapes_the_rest)
{
    expect(rdv_json_put_string, "file:///tmp/\xc3\xbc", "\"file:///tmp/\xc3\xbc\"");
    expect(rdv_json_put_string, "a\"b\\c\nd\te", "\"a\\\"b\\\\c\\nd\\u0009e\"");
    expect(rdv_json_put_string, "bad \xff\xc3 end", "\"bad \\u00ff\\u00c3 end\"");
}

Test(xml, keeps_utf8_and_replaces_the_rest)
{
    expect(rdv_xml_put_escaped, "<a href='x'>&\xc3\xbc</a>",
           "&lt;a href=&apos;x&apos;&gt;&amp;\xc3\xbc&lt;/a&gt;");
    expect(rdv_xml_put_escaped, "bell\x07 bad\xff nonchar\xef\xbf\xbf",
           "bell? bad? nonchar?");
}
