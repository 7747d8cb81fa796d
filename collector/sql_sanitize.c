/* The SQL sanitiser: one pass over the lexer's tokens writes the sanitised text (with the
 * IN-list and VALUES collapses done by rewinding the output) and, alongside, finds the
 * statement's operation and its single table. */
#include "sql_sanitize.h"

#include <string.h>

/* Parentheses deeper than this are still balanced, but their contents are not collapsed
 * and FROM inside them is not followed. */
#define MAX_FRAMES 32

static const char *const OPERATIONS[] = {
    "SELECT",   "INSERT",     "UPDATE",   "DELETE",   "MERGE",      "REPLACE", "UPSERT", "CREATE",
    "DROP",     "ALTER",      "TRUNCATE", "RENAME",   "BEGIN",      "START",   "COMMIT", "END",
    "ROLLBACK", "SAVEPOINT",  "RELEASE",  "ABORT",    "SET",        "RESET",   "SHOW",   "DESCRIBE",
    "EXPLAIN",  "ANALYZE",    "VACUUM",   "PRAGMA",   "COPY",       "CALL",    "EXEC",   "EXECUTE",
    "PREPARE",  "DEALLOCATE", "GRANT",    "REVOKE",   "LOCK",       "UNLOCK",  "USE",    "DO",
    "VALUES",   "TABLE",      "LISTEN",   "UNLISTEN", "NOTIFY",     "DECLARE", "FETCH",  "MOVE",
    "CLOSE",    "DISCARD",    "REINDEX",  "CLUSTER",  "CHECKPOINT", "ATTACH",  "DETACH", "COMMENT",
    "OPTIMIZE", "REFRESH",    "LOAD",     "FLUSH",    "KILL",       "HANDLER"};

/* Operations a WITH clause can lead to. */
static const char *const WITH_MAIN_OPERATIONS[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"};

/* Words that end a FROM list or cannot be a table name. */
static const char *const CLAUSE_WORDS[] = {
    "WHERE",   "GROUP",     "ORDER", "HAVING", "LIMIT", "OFFSET", "UNION", "EXCEPT", "INTERSECT",
    "WINDOW",  "RETURNING", "ON",    "USING",  "SET",   "VALUES", "FETCH", "FOR",    "SELECT",
    "DEFAULT", "NATURAL",   "LEFT",  "RIGHT",  "INNER", "OUTER",  "CROSS", "FULL",   "JOIN"};

/* Words between a table keyword and the name: FROM ONLY t, CREATE TABLE IF NOT EXISTS t. */
static const char *const NAME_MODIFIERS[] = {"ONLY", "IF", "NOT", "EXISTS", "TABLE"};

struct frame {
    size_t open_position;   /* output offset of the "(" */
    bool in_list;           /* opened right after IN */
    bool values_tuple;      /* one tuple of a VALUES list */
    bool only_placeholders; /* nothing but ? and "," inside so far */
    bool query;             /* starts with SELECT/WITH/VALUES: a FROM inside names a table */
    bool has_content;
    unsigned items;
};

enum name_state { NAME_NONE, NAME_EXPECT, NAME_AFTER_PART, NAME_EXPECT_PART };

struct sanitizer {
    struct ldtap_sql_lexer lexer;
    char *out;
    size_t capacity;
    struct ldtap_sql_result *result;
    bool input_truncated;
    struct ldtap_sql_token previous; /* type END before the first token */
    unsigned depth;
    struct frame frames[MAX_FRAMES]; /* frames[d] is the parenthesis that opened depth d + 1 */

    bool values_active, values_expect_tuple, values_first_done, values_first_ok;
    unsigned values_depth;
    size_t values_first_end;

    unsigned statement_tokens;
    bool with_statement, with_main_found, statement_ended, several_statements;

    enum name_state name_state;
    bool name_from_from, name_overflow, ambiguous, from_list, saw_select;
    unsigned from_depth, tables;
    size_t name_length;
    char name[LDTAP_SQL_COLLECTION_BYTES];
    char collection[LDTAP_SQL_COLLECTION_BYTES];
};

/* ---- token helpers ---- */

static bool is_punct(const struct sanitizer *s, const struct ldtap_sql_token *t, const char *text) {
    return t->type == LDTAP_SQL_TOKEN_PUNCT && t->length == strlen(text) &&
           memcmp(s->lexer.text + t->start, text, t->length) == 0;
}

static bool is_any(const struct sanitizer *s, const struct ldtap_sql_token *t, const char *const *words,
                   size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (ldtap_sql_token_is(&s->lexer, t, words[i])) {
            return true;
        }
    }
    return false;
}

#define IS_ANY(s, t, list) is_any((s), (t), (list), sizeof(list) / sizeof *(list))

/* What the token becomes in the output: literals are "?". */
static bool renders_as_question_mark(const struct sanitizer *s, const struct ldtap_sql_token *t) {
    return t->type == LDTAP_SQL_TOKEN_LITERAL ||
           (t->type == LDTAP_SQL_TOKEN_PLACEHOLDER && t->length == 1 && s->lexer.text[t->start] == '?');
}

static struct frame *current_frame(struct sanitizer *s) {
    return s->depth > 0 && s->depth <= MAX_FRAMES ? &s->frames[s->depth - 1] : NULL;
}

/* ---- output ---- */

static void append(struct sanitizer *s, const char *text, size_t length) {
    if (s->result->output_full || s->result->length + length > s->capacity - 1) {
        s->result->output_full = true;
        return;
    }
    memcpy(s->out + s->result->length, text, length);
    s->result->length += length;
}

static bool space_needed(const struct sanitizer *s, const struct ldtap_sql_token *t) {
    const struct ldtap_sql_token *p = &s->previous;
    if (s->result->length == 0 || p->type == LDTAP_SQL_TOKEN_END) {
        return false;
    }
    if (is_punct(s, t, ")") || is_punct(s, t, ",") || is_punct(s, t, ";") || is_punct(s, t, ".") ||
        is_punct(s, t, "]") || is_punct(s, t, "::")) {
        return false;
    }
    if (is_punct(s, p, "(") || is_punct(s, p, ".") || is_punct(s, p, "[") || is_punct(s, p, "::")) {
        return false;
    }
    /* f(x) stays f(x); VALUES (x) stays VALUES (x). */
    return !(is_punct(s, t, "(") && !t->space_before &&
             (p->type == LDTAP_SQL_TOKEN_WORD || p->type == LDTAP_SQL_TOKEN_QUOTED_NAME));
}

/* Writes the token, after a space when `space`; both or neither, so a cut output never
 * ends in a space. */
static void write_token(struct sanitizer *s, const struct ldtap_sql_token *t, bool space) {
    const char *text = renders_as_question_mark(s, t) ? "?" : (const char *)s->lexer.text + t->start;
    size_t length = renders_as_question_mark(s, t) ? 1 : t->length;
    if (s->result->output_full || s->result->length + space + length > s->capacity - 1) {
        s->result->output_full = true;
        return;
    }
    append(s, " ", space);
    append(s, text, length);
}

/* A VALUES tuple just closed at the output's end. */
static void close_values_tuple(struct sanitizer *s, const struct frame *frame) {
    if (!s->values_first_done) {
        s->values_first_done = true;
        s->values_first_ok = frame->only_placeholders;
        s->values_first_end = s->result->length;
    } else if (s->values_first_ok && frame->only_placeholders && !s->result->output_full) {
        s->result->length = s->values_first_end; /* drop ", (?, ?)" */
    } else {
        s->values_active = false;
    }
}

/* Tracks the VALUES list at its own depth; returns true if `t` opens one of its tuples. */
static bool follow_values(struct sanitizer *s, const struct ldtap_sql_token *t) {
    if (!s->values_active || s->depth > s->values_depth) {
        return false;
    }
    if (s->depth < s->values_depth) {
        s->values_active = false;
    } else if (is_punct(s, t, "(") && s->values_expect_tuple) {
        s->values_expect_tuple = false;
        return true;
    } else if (is_punct(s, t, ",") && !s->values_expect_tuple) {
        s->values_expect_tuple = true;
    } else {
        s->values_active = false;
    }
    return false;
}

static void emit(struct sanitizer *s, const struct ldtap_sql_token *t) {
    bool opens_tuple = follow_values(s, t);
    struct frame *frame = current_frame(s);
    if (frame) {
        if (!frame->has_content) {
            frame->has_content = true;
            frame->query = ldtap_sql_token_is(&s->lexer, t, "SELECT") ||
                           ldtap_sql_token_is(&s->lexer, t, "WITH") ||
                           ldtap_sql_token_is(&s->lexer, t, "VALUES");
        }
        if (renders_as_question_mark(s, t)) {
            frame->items++;
        } else if (!is_punct(s, t, ",") && !is_punct(s, t, ")")) {
            frame->only_placeholders = false;
        }
    }
    bool space = space_needed(s, t);
    if (is_punct(s, t, "(")) {
        if (s->depth < MAX_FRAMES) {
            s->frames[s->depth] = (struct frame){.open_position = s->result->length + space,
                                                 .in_list = ldtap_sql_token_is(&s->lexer, &s->previous, "IN"),
                                                 .values_tuple = opens_tuple,
                                                 .only_placeholders = true};
        }
        s->depth++;
    }
    write_token(s, t, space);
    if (is_punct(s, t, ")") && s->depth > 0) {
        s->depth--;
        if (frame && frame->in_list && frame->only_placeholders && frame->items > 1 &&
            !s->result->output_full) {
            s->result->length = frame->open_position;
            append(s, "(?)", 3);
        }
        if (frame && frame->values_tuple && s->values_active) {
            close_values_tuple(s, frame);
        }
    }
    if (ldtap_sql_token_is(&s->lexer, t, "VALUES")) {
        s->values_active = s->values_expect_tuple = true;
        s->values_first_done = false;
        s->values_depth = s->depth;
    }
}

/* ---- operation ---- */

static void set_operation(struct sanitizer *s, const struct ldtap_sql_token *t) {
    size_t length = t->length < LDTAP_SQL_OPERATION_BYTES - 1 ? t->length : LDTAP_SQL_OPERATION_BYTES - 1;
    for (size_t i = 0; i < length; i++) {
        char c = (char)s->lexer.text[t->start + i];
        s->result->operation[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
    }
    s->result->operation[length] = '\0';
}

/* The statement's operation word: the first token, or the main one after WITH. */
static bool observe_operation(struct sanitizer *s, const struct ldtap_sql_token *t) {
    if (is_punct(s, t, ";") && s->depth == 0) {
        s->statement_ended = s->statement_tokens > 0;
        return false;
    }
    if (s->statement_ended) {
        s->several_statements = true;
    }
    if (++s->statement_tokens == 1) {
        if (ldtap_sql_token_is(&s->lexer, t, "WITH")) {
            s->with_statement = true;
        } else if (IS_ANY(s, t, OPERATIONS)) {
            set_operation(s, t);
            return true;
        }
    } else if (s->with_statement && !s->with_main_found && s->depth == 0 &&
               IS_ANY(s, t, WITH_MAIN_OPERATIONS)) {
        s->with_main_found = true;
        set_operation(s, t);
        return true;
    }
    return false;
}

/* ---- collection ---- */

static void append_name(struct sanitizer *s, const char *text, size_t length) {
    if (s->name_length + length >= sizeof s->name) {
        s->name_overflow = true;
        return;
    }
    memcpy(s->name + s->name_length, text, length);
    s->name_length += length;
}

/* Adds a name part; "quoted" and `quoted` names lose their quotes and doubled quotes. */
static void add_name_part(struct sanitizer *s, const struct ldtap_sql_token *t) {
    const char *text = (const char *)s->lexer.text + t->start;
    if (t->type == LDTAP_SQL_TOKEN_WORD) {
        append_name(s, text, t->length);
        return;
    }
    char quote = text[0];
    size_t end = t->unterminated ? t->length : t->length - 1;
    for (size_t i = 1; i < end; i++) {
        append_name(s, text + i, 1);
        i += text[i] == quote; /* "" inside stands for one " */
    }
}

static void finish_name(struct sanitizer *s) {
    s->name[s->name_length] = '\0';
    if (s->name_overflow || s->name_length == 0) {
        s->ambiguous = true;
    } else if (s->tables == 0) {
        memcpy(s->collection, s->name, s->name_length + 1);
    } else if (strcmp(s->collection, s->name) != 0) {
        s->ambiguous = true;
    }
    s->tables++;
    if (s->name_from_from) {
        s->from_list = true;
        s->from_depth = s->depth;
    }
    s->name_length = 0;
    s->name_overflow = s->name_from_from = false;
    s->name_state = NAME_NONE;
}

/* Advances the table-name state machine; true when `t` was consumed as part of a name. */
static bool follow_name(struct sanitizer *s, const struct ldtap_sql_token *t) {
    bool name_token = (t->type == LDTAP_SQL_TOKEN_WORD && !IS_ANY(s, t, CLAUSE_WORDS)) ||
                      t->type == LDTAP_SQL_TOKEN_QUOTED_NAME;
    switch (s->name_state) {
    case NAME_EXPECT:
        if (IS_ANY(s, t, NAME_MODIFIERS)) {
            return true;
        }
        s->name_state = NAME_NONE;
        if (name_token) {
            add_name_part(s, t);
            s->name_state = NAME_AFTER_PART;
            return true;
        }
        s->ambiguous |= is_punct(s, t, "("); /* a derived table or a subquery */
        return false;
    case NAME_AFTER_PART:
        if (is_punct(s, t, ".")) {
            append_name(s, ".", 1);
            s->name_state = NAME_EXPECT_PART;
            return true;
        }
        finish_name(s);
        return false;
    case NAME_EXPECT_PART:
        if (name_token) {
            add_name_part(s, t);
            s->name_state = NAME_AFTER_PART;
            return true;
        }
        s->name_overflow = true; /* "schema." and then no name */
        finish_name(s);
        return false;
    case NAME_NONE:
        break;
    }
    return false;
}

static void expect_name(struct sanitizer *s, bool from) {
    s->name_state = NAME_EXPECT;
    s->name_from_from = from;
}

static void observe_collection(struct sanitizer *s, const struct ldtap_sql_token *t, bool is_operation) {
    if (follow_name(s, t)) {
        return;
    }
    if (s->from_list) {
        if (is_punct(s, t, ")") && s->depth <= s->from_depth) {
            s->from_list = false;
        } else if (s->depth == s->from_depth && is_punct(s, t, ",")) {
            expect_name(s, true); /* FROM a, b */
            return;
        } else if (s->depth == s->from_depth && (IS_ANY(s, t, CLAUSE_WORDS) || is_punct(s, t, ";"))) {
            s->from_list = false;
        }
    }
    const struct frame *frame = current_frame(s);
    if (ldtap_sql_token_is(&s->lexer, t, "SELECT")) {
        s->saw_select = true;
    } else if (ldtap_sql_token_is(&s->lexer, t, "JOIN")) {
        s->ambiguous = true;
    } else if (ldtap_sql_token_is(&s->lexer, t, "FROM")) {
        /* FROM inside a function call is syntax (EXTRACT(YEAR FROM ts)), not a table. */
        if (s->depth == 0 || (frame && frame->query)) {
            expect_name(s, true);
        }
    } else if (ldtap_sql_token_is(&s->lexer, t, "INTO") || ldtap_sql_token_is(&s->lexer, t, "TABLE") ||
               (is_operation && (ldtap_sql_token_is(&s->lexer, t, "UPDATE") ||
                                 ldtap_sql_token_is(&s->lexer, t, "TRUNCATE")))) {
        expect_name(s, false);
    }
}

/* ---- driver ---- */

static void finish(struct sanitizer *s) {
    if (s->name_state == NAME_AFTER_PART || s->name_state == NAME_EXPECT_PART) {
        if (s->input_truncated) {
            s->ambiguous = true; /* the name may be cut */
        } else {
            finish_name(s);
        }
    }
    struct ldtap_sql_result *result = s->result;
    if (s->several_statements) {
        result->operation[0] = '\0';
        return;
    }
    bool usable = s->tables > 0 && !s->ambiguous && !s->with_statement;
    /* A cut statement may name more tables past the cut; an INSERT without SELECT cannot. */
    if (s->input_truncated && (s->saw_select || (strcmp(result->operation, "INSERT") != 0 &&
                                                 strcmp(result->operation, "REPLACE") != 0))) {
        usable = false;
    }
    if (usable) {
        memcpy(result->collection, s->collection, sizeof result->collection);
    }
}

void ldtap_sql_sanitize(const char *sql, size_t length, enum ldtap_sql_dialect dialect, bool input_truncated,
                        char *out, size_t capacity, struct ldtap_sql_result *result) {
    static struct sanitizer zero;
    struct sanitizer s = zero;
    *result = (struct ldtap_sql_result){0};
    ldtap_sql_lexer_init(&s.lexer, sql, length, dialect);
    s.out = out;
    s.capacity = capacity;
    s.result = result;
    s.input_truncated = input_truncated;
    s.previous.type = LDTAP_SQL_TOKEN_END;
    for (;;) {
        struct ldtap_sql_token token;
        ldtap_sql_lexer_next(&s.lexer, &token);
        if (token.type == LDTAP_SQL_TOKEN_END) {
            break;
        }
        bool is_operation = observe_operation(&s, &token);
        observe_collection(&s, &token, is_operation);
        emit(&s, &token);
        s.previous = token;
    }
    finish(&s);
    out[result->length] = '\0';
}
