/*
 * harness/common/number.h - the one parser for numbers people type:
 * every numeric option of rdv (run, matrix, conform, faults, bench),
 * rdv-bench-mpi and rdv-proxy, the items of lists like "2,4-8", and the
 * digits of counts like "16k" (common/size_text.c).
 *
 * Strict: decimal digits only, no sign, blank, '+' or trailing text, no
 * overflow. "12x", "", "-1", " 5" and 99999999999999999999 are errors
 * that name the option and quote what was typed, never a value clamped,
 * truncated or read as 0 the way atoi would.
 */
#ifndef RDV_HARNESS_NUMBER_H
#define RDV_HARNESS_NUMBER_H

#include <stddef.h>
#include <stdint.h>

/* The len bytes at s as a number no larger than max. Returns 0 with
 * *out, or -1 when they are not all digits, there are none, or the value
 * passes max. s need not be NUL-terminated. */
int rdv_number_parse(const char *s, size_t len, uint64_t max,
                     uint64_t *out);

/* Option values, never negative: min and max are 0 or more. Each returns
 * 0, or -1 with "OPT: 'TEXT' is not ..." in err. */
int rdv_cli_int(const char *opt, const char *text, long min, long max,
                int *out, char *err, size_t errlen);
int rdv_cli_long(const char *opt, const char *text, long min, long max,
                 long *out, char *err, size_t errlen);
int rdv_cli_u64(const char *opt, const char *text, uint64_t *out, char *err,
                size_t errlen);
/* "2,4,8,16" or "1-5" or a mix ("1,3-5"), each value in min..max; at
 * most cap values. */
int rdv_cli_list(const char *opt, const char *text, uint64_t min,
                 uint64_t max, uint64_t *out, int cap, int *n, char *err,
                 size_t errlen);
/* The same list into ints (min and max within int's range). */
int rdv_cli_int_list(const char *opt, const char *text, int min, int max,
                     int *out, int cap, int *n, char *err, size_t errlen);

#endif
