/* The "crashes and exceptions" summary section (see summary_exceptions.h): a small fixed
 * table searched linearly, since a run that raises many distinct types is rare. */
#include "summary_exceptions.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TYPE_BYTES 64
#define SERVICE_BYTES 48
#define MESSAGE_BYTES 160
#define STACK_BYTES 1024
#define WIDTH 80

struct exception_row {
    char service[SERVICE_BYTES];
    char type[TYPE_BYTES];
    char message[MESSAGE_BYTES];
    char stack[STACK_BYTES];
    uint64_t count;
};

struct ldtap_exception_stats {
    struct exception_row rows[LDTAP_SUMMARY_MAX_EXCEPTION_TYPES];
    size_t row_count;
};

struct ldtap_exception_stats *ldtap_exception_stats_new(void) {
    return calloc(1, sizeof(struct ldtap_exception_stats));
}

void ldtap_exception_stats_free(struct ldtap_exception_stats *stats) { free(stats); }

/* Copies at most size - 1 bytes, control characters (but '\n') shown as spaces, so a
 * hostile message cannot move the terminal's cursor. */
static void copy_text(char *out, size_t size, const char *text, size_t length) {
    length = length < size - 1 ? length : size - 1;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        out[i] = (c < ' ' && c != '\n') || c == 0x7f ? ' ' : (char)c;
    }
    out[length] = '\0';
}

void ldtap_exception_stats_add(struct ldtap_exception_stats *stats, const char *service, const char *type,
                               size_t type_length, const char *message, size_t message_length, const char *stack,
                               size_t stack_length) {
    char key_service[SERVICE_BYTES], key_type[TYPE_BYTES];
    copy_text(key_service, sizeof key_service, service, strlen(service));
    copy_text(key_type, sizeof key_type, type, type_length);
    struct exception_row *row = NULL;
    for (size_t i = 0; i < stats->row_count && !row; i++) {
        if (strcmp(stats->rows[i].service, key_service) == 0 && strcmp(stats->rows[i].type, key_type) == 0) {
            row = &stats->rows[i];
        }
    }
    if (!row && stats->row_count == LDTAP_SUMMARY_MAX_EXCEPTION_TYPES) {
        row = &stats->rows[LDTAP_SUMMARY_MAX_EXCEPTION_TYPES - 1]; /* the last row turns into "(other)" */
        snprintf(row->type, sizeof row->type, "(other)");
        row->message[0] = row->stack[0] = '\0';
    }
    if (!row) {
        row = &stats->rows[stats->row_count++];
        memcpy(row->service, key_service, sizeof row->service);
        memcpy(row->type, key_type, sizeof row->type);
        copy_text(row->message, sizeof row->message, message, message_length);
        copy_text(row->stack, sizeof row->stack, stack, stack_length);
    }
    row->count++;
}

void ldtap_exception_stats_retract(struct ldtap_exception_stats *stats, const char *service, const char *type,
                                   size_t type_length) {
    char key_service[SERVICE_BYTES], key_type[TYPE_BYTES];
    copy_text(key_service, sizeof key_service, service, strlen(service));
    copy_text(key_type, sizeof key_type, type, type_length);
    for (size_t i = 0; i < stats->row_count; i++) {
        struct exception_row *row = &stats->rows[i];
        if (strcmp(row->service, key_service) == 0 && strcmp(row->type, key_type) == 0) {
            if (--row->count == 0) {
                memmove(row, row + 1, (stats->row_count - i - 1) * sizeof *row);
                stats->row_count--;
            }
            return;
        }
    }
}

static int by_count(const void *left, const void *right) {
    const struct exception_row *a = left, *b = right;
    return a->count < b->count ? 1 : a->count > b->count ? -1 : 0;
}

/* Prints `text` on lines of at most WIDTH columns after `indent` spaces, each of its own
 * lines cut to the room (a message's first line is what a person scans for). */
static void print_lines(FILE *out, const char *text, int indent, int max_lines) {
    for (int printed = 0; *text && printed < max_lines; printed++) {
        size_t length = strcspn(text, "\n");
        int room = WIDTH - indent;
        fprintf(out, "%*s%.*s\n", indent, "", (int)length < room ? (int)length : room, text);
        text += length + (text[length] == '\n');
    }
}

void ldtap_exception_stats_print(const struct ldtap_exception_stats *stats, FILE *out) {
    if (!stats || stats->row_count == 0) {
        return;
    }
    struct exception_row *rows = malloc(stats->row_count * sizeof *rows);
    if (!rows) {
        return;
    }
    memcpy(rows, stats->rows, stats->row_count * sizeof *rows);
    qsort(rows, stats->row_count, sizeof *rows, by_count);
    fputs("\ncrashes and exceptions\n", out);
    for (size_t i = 0; i < stats->row_count; i++) {
        /* "  12x ZeroDivisionError  (service)", cut to 80 columns. */
        char line[TYPE_BYTES + SERVICE_BYTES + 32];
        snprintf(line, sizeof line, "  %llux %s  (%s)", (unsigned long long)rows[i].count, rows[i].type,
                 rows[i].service);
        fprintf(out, "%.*s\n", WIDTH, line);
        print_lines(out, rows[i].message, 6, 1);
        print_lines(out, rows[i].stack, 6, 5);
    }
    free(rows);
}
