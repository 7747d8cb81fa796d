/* Criterion tests for collector/prometheus_parse.c: samples, labels and escapes, the
 * special values, comments, refusal of malformed lines, and every prefix of a line. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus_parse.h"

static struct ldtap_prom_sample sample;

static enum ldtap_prom_line_kind parse(const char *line) {
    return ldtap_prom_parse_line(line, strlen(line), &sample);
}

static void assert_label(const char *name, const char *value) {
    const struct ldtap_prom_label *label = ldtap_prom_find_label(&sample, name);
    cr_assert_not_null(label, "no label %s", name);
    cr_assert_eq(label->value_length, strlen(value), "label %s: %.*s", name, (int)label->value_length,
                 label->value);
    cr_assert(memcmp(label->value, value, label->value_length) == 0);
}

Test(prometheus_parse, sample_without_labels) {
    cr_assert_eq(parse("up 1"), LDTAP_PROM_LINE_SAMPLE);
    cr_assert(ldtap_prom_name_is(&sample, "up"));
    cr_assert_eq(sample.label_count, 0);
    cr_assert_float_eq(sample.value, 1.0, 1e-12);
}

Test(prometheus_parse, labels_escapes_timestamp_and_blanks) {
    cr_assert_eq(parse("  http_server_request_duration_seconds_bucket { http_route = \"/a\\\\b\\\"c\\nd\" , "
                       "le=\"0.5\", }"
                       "   42.5e1  1700000000000 \r"),
                 LDTAP_PROM_LINE_SAMPLE);
    cr_assert(ldtap_prom_name_is(&sample, "http_server_request_duration_seconds_bucket"));
    cr_assert_eq(sample.label_count, 2);
    assert_label("http_route", "/a\\b\"c\nd");
    assert_label("le", "0.5");
    cr_assert_float_eq(sample.value, 425.0, 1e-9);
    cr_assert_null(ldtap_prom_find_label(&sample, "missing"));
}

Test(prometheus_parse, special_values) {
    cr_assert_eq(parse("a +Inf"), LDTAP_PROM_LINE_SAMPLE);
    cr_assert(isinf(sample.value) && sample.value > 0);
    cr_assert_eq(parse("a -Inf"), LDTAP_PROM_LINE_SAMPLE);
    cr_assert(isinf(sample.value) && sample.value < 0);
    cr_assert_eq(parse("a NaN"), LDTAP_PROM_LINE_SAMPLE);
    cr_assert(isnan(sample.value));
    cr_assert_eq(parse("a{le=\"+Inf\"} 3"), LDTAP_PROM_LINE_SAMPLE);
    assert_label("le", "+Inf");
}

Test(prometheus_parse, comments_and_blank_lines_are_skipped) {
    cr_assert_eq(parse("# HELP up Whether the target is up."), LDTAP_PROM_LINE_SKIP);
    cr_assert_eq(parse("# TYPE up gauge"), LDTAP_PROM_LINE_SKIP);
    cr_assert_eq(parse(""), LDTAP_PROM_LINE_SKIP);
    cr_assert_eq(parse("   \t"), LDTAP_PROM_LINE_SKIP);
}

Test(prometheus_parse, malformed_lines_are_refused) {
    static const char *const bad[] = {
        "up",                    /* no value */
        "up{} ",                 /* no value */
        "up one",                /* not a number */
        "up 0x10",               /* hex is not the format */
        "up 1 2 3",              /* junk after the timestamp */
        "up 1 1.5",              /* timestamps are integers */
        "up{a=\"x} 1",           /* unterminated value */
        "up{a=\"\\t\"} 1",       /* unknown escape */
        "up{a=x} 1",             /* unquoted value */
        "up{a=\"x\" b=\"y\"} 1", /* missing comma */
        "up{1a=\"x\"} 1",        /* label names cannot start with a digit */
        "up{a:b=\"x\"} 1",       /* nor contain ':' */
        "9up 1",                 /* nor can metric names */
        "{a=\"x\"} 1",           /* no name */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(parse(bad[i]), LDTAP_PROM_LINE_INVALID, "accepted: %s", bad[i]);
    }
}

Test(prometheus_parse, label_limits_are_enforced) {
    char line[4096] = "m{";
    for (int i = 0; i <= LDTAP_PROM_MAX_LABELS; i++) {
        char label[32];
        snprintf(label, sizeof label, "l%d=\"v\",", i);
        strcat(line, label);
    }
    strcat(line, "} 1");
    cr_assert_eq(parse(line), LDTAP_PROM_LINE_INVALID);
    char *huge = malloc(LDTAP_PROM_VALUE_BYTES + 64);
    strcpy(huge, "m{a=\"");
    memset(huge + 5, 'x', LDTAP_PROM_VALUE_BYTES + 1);
    strcpy(huge + 5 + LDTAP_PROM_VALUE_BYTES + 1, "\"} 1");
    cr_assert_eq(parse(huge), LDTAP_PROM_LINE_INVALID);
    free(huge);
}

/* Every prefix of a valid line is either a valid sample or refused: never a read past it. */
Test(prometheus_parse, every_prefix_is_safe) {
    const char *line = "x_bucket{service_name=\"shop\",le=\"0.25\"} 17 1700000000000";
    size_t length = strlen(line);
    for (size_t cut = 0; cut <= length; cut++) {
        char *copy = malloc(cut ? cut : 1); /* exact size: ASan flags any overread */
        memcpy(copy, line, cut);
        enum ldtap_prom_line_kind kind = ldtap_prom_parse_line(copy, cut, &sample);
        cr_assert(kind == LDTAP_PROM_LINE_SAMPLE || kind == LDTAP_PROM_LINE_INVALID || cut == 0);
        free(copy);
    }
}

struct collected {
    int samples;
    double sum;
};

static void collect(void *context, const struct ldtap_prom_sample *parsed) {
    struct collected *collected = context;
    collected->samples++;
    collected->sum += parsed->value;
}

Test(prometheus_parse, whole_exposition) {
    const char *text = "# HELP a A.\n# TYPE a counter\na_total 1\n\nb{x=\"1\"} 2\nnot valid\nc 3";
    struct collected collected = {0};
    size_t invalid = ldtap_prom_parse(text, strlen(text), &sample, collect, &collected);
    cr_assert_eq(invalid, 1);
    cr_assert_eq(collected.samples, 3);
    cr_assert_float_eq(collected.sum, 6.0, 1e-12);
}
