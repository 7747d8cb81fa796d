/* SQL tokenizer used by the sanitiser. Total over any bytes: every input ends in a finite
 * token stream; constructs cut by the end of input (statements arrive truncated) end
 * there and are flagged. */
#include "sql_lexer.h"

#include <string.h>

/* Dollar-quote tags longer than this are not taken as tags, which bounds the search for
 * the closing tag to linear time on hostile input. */
#define DOLLAR_TAG_MAX 64

/* Keywords after which + or - begins a signed number ("WHERE x = -1", "LIMIT -1"). */
static const char *const SIGN_KEYWORDS[] = {"SELECT", "WHERE", "AND",  "OR", "NOT",    "VALUES", "SET",
                                            "THEN",   "ELSE",  "WHEN", "BY", "LIMIT",  "OFFSET", "IN",
                                            "IS",     "LIKE",  "CASE", "ON", "HAVING", "RETURN", "BETWEEN"};

void ldtap_sql_lexer_init(struct ldtap_sql_lexer *lexer, const char *text, size_t length,
                          enum ldtap_sql_dialect dialect) {
    *lexer = (struct ldtap_sql_lexer){(const unsigned char *)text, text ? length : 0, 0, dialect, true};
}

static bool is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

/* Bytes >= 0x80 count as letters so that UTF-8 identifiers stay whole. */
static bool is_word_start(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool is_word_part(unsigned char c) {
    return is_word_start(c) || is_digit(c) || c == '$';
}

static bool is_space(unsigned char c) {
    return c <= 0x20 || c == 0x7f;
}

static unsigned char peek(const struct ldtap_sql_lexer *lexer, size_t offset) {
    size_t at = lexer->position + offset;
    return at < lexer->length ? lexer->text[at] : '\0';
}

static bool at_line_comment(const struct ldtap_sql_lexer *lexer) {
    return (peek(lexer, 0) == '-' && peek(lexer, 1) == '-') ||
           (peek(lexer, 0) == '#' && lexer->dialect == LDTAP_SQL_DIALECT_MYSQL);
}

static bool at_block_comment(const struct ldtap_sql_lexer *lexer) {
    return peek(lexer, 0) == '/' && peek(lexer, 1) == '*';
}

/* Skips a block comment; PostgreSQL's nest, the others end at the first close. */
static void skip_block_comment(struct ldtap_sql_lexer *lexer) {
    unsigned depth = 0;
    while (lexer->position < lexer->length) {
        if (at_block_comment(lexer)) {
            depth = (depth == 0 || lexer->dialect == LDTAP_SQL_DIALECT_POSTGRESQL) ? depth + 1 : depth;
            lexer->position += 2;
        } else if (peek(lexer, 0) == '*' && peek(lexer, 1) == '/') {
            lexer->position += 2;
            if (--depth == 0) {
                return;
            }
        } else {
            lexer->position++;
        }
    }
}

/* Skips whitespace and comments; true if anything was skipped. */
static bool skip_separators(struct ldtap_sql_lexer *lexer) {
    size_t before = lexer->position;
    while (lexer->position < lexer->length) {
        if (is_space(lexer->text[lexer->position])) {
            lexer->position++;
        } else if (at_line_comment(lexer)) {
            while (lexer->position < lexer->length && lexer->text[lexer->position] != '\n') {
                lexer->position++;
            }
        } else if (at_block_comment(lexer)) {
            skip_block_comment(lexer);
        } else {
            break;
        }
    }
    return lexer->position != before;
}

/* Scans a quoted run opened at the current position by `quote`; a doubled quote is an
 * escaped one, and so is a backslash-escaped byte when `backslash` holds. Returns false
 * when the end of input came first. */
static bool scan_quoted(struct ldtap_sql_lexer *lexer, unsigned char quote, bool backslash) {
    lexer->position++;
    while (lexer->position < lexer->length) {
        unsigned char c = lexer->text[lexer->position];
        if (backslash && c == '\\') {
            lexer->position += 2;
        } else if (c == quote && peek(lexer, 1) == quote) {
            lexer->position += 2;
        } else if (c == quote) {
            lexer->position++;
            return true;
        } else {
            lexer->position++;
        }
    }
    lexer->position = lexer->length; /* a trailing backslash may have stepped past the end */
    return false;
}

/* At '$': the length of a "$tag$" opener (tag empty or an identifier), 0 if none. */
static size_t dollar_tag_length(const struct ldtap_sql_lexer *lexer) {
    size_t length = 1;
    if (is_word_start(peek(lexer, 1))) {
        while (length <= DOLLAR_TAG_MAX &&
               (is_word_start(peek(lexer, length)) || is_digit(peek(lexer, length)))) {
            length++;
        }
    }
    return peek(lexer, length) == '$' ? length + 1 : 0;
}

/* Scans $tag$ … $tag$; false when unterminated. */
static bool scan_dollar_quoted(struct ldtap_sql_lexer *lexer, size_t tag_length) {
    const unsigned char *tag = lexer->text + lexer->position;
    lexer->position += tag_length;
    while (lexer->position + tag_length <= lexer->length) {
        if (lexer->text[lexer->position] == '$' &&
            memcmp(lexer->text + lexer->position, tag, tag_length) == 0) {
            lexer->position += tag_length;
            return true;
        }
        lexer->position++;
    }
    lexer->position = lexer->length;
    return false;
}

/* Digits, hex (0x…), decimals, exponents; trailing letters join the literal ("1abc"). */
static void scan_number(struct ldtap_sql_lexer *lexer) {
    if (peek(lexer, 0) == '0' && (peek(lexer, 1) == 'x' || peek(lexer, 1) == 'X')) {
        lexer->position += 2;
    } else {
        while (is_digit(peek(lexer, 0))) {
            lexer->position++;
        }
        if (peek(lexer, 0) == '.') {
            lexer->position++;
            while (is_digit(peek(lexer, 0))) {
                lexer->position++;
            }
        }
        unsigned char sign = peek(lexer, 1);
        if ((peek(lexer, 0) == 'e' || peek(lexer, 0) == 'E') &&
            (is_digit(sign) || ((sign == '+' || sign == '-') && is_digit(peek(lexer, 2))))) {
            lexer->position += 2;
        }
    }
    while (is_word_part(peek(lexer, 0))) {
        lexer->position++;
    }
}

static bool number_follows(const struct ldtap_sql_lexer *lexer, size_t offset) {
    return is_digit(peek(lexer, offset)) || (peek(lexer, offset) == '.' && is_digit(peek(lexer, offset + 1)));
}

/* A string prefix directly before a quote: E'…' (escapes), X'…' / B'…' (hex, bits),
 * N'…' (national), U&'…' (Unicode escapes). Returns the prefix length, 0 if none. */
static size_t string_prefix_length(const struct ldtap_sql_lexer *lexer) {
    unsigned char c = peek(lexer, 0) | 0x20;
    if ((c == 'e' || c == 'x' || c == 'b' || c == 'n') && peek(lexer, 1) == '\'') {
        return 1;
    }
    return (c == 'u' && peek(lexer, 1) == '&' && peek(lexer, 2) == '\'') ? 2 : 0;
}

/* The rest of a word, or of a placeholder after its sigil (:name, @name, $1, ?1); false if empty. */
static bool scan_name(struct ldtap_sql_lexer *lexer) {
    size_t start = lexer->position;
    while (is_word_part(peek(lexer, 0))) {
        lexer->position++;
    }
    return lexer->position != start;
}

/* Python DB-API format placeholders: %s and %(name)s. */
static bool scan_format_placeholder(struct ldtap_sql_lexer *lexer) {
    if (peek(lexer, 1) == 's') {
        lexer->position += 2;
        return true;
    }
    if (peek(lexer, 1) != '(') {
        return false;
    }
    size_t length = 2;
    while (is_word_part(peek(lexer, length))) {
        length++;
    }
    if (length > 2 && peek(lexer, length) == ')' && peek(lexer, length + 1) == 's') {
        lexer->position += length + 2;
        return true;
    }
    return false;
}

static bool is_operator_char(const struct ldtap_sql_lexer *lexer, unsigned char c) {
    if (c == '#') {
        return lexer->dialect != LDTAP_SQL_DIALECT_MYSQL;
    }
    return c != '\0' && strchr("+-*/<>=~!@%^&|", c) != NULL;
}

/* An operator run such as <=, <>, ->>, @>; stops before a comment and before a sign that
 * begins a number ("=-1" is "=" then "-1"). */
static void scan_operator(struct ldtap_sql_lexer *lexer) {
    lexer->position++;
    while (lexer->position < lexer->length && is_operator_char(lexer, peek(lexer, 0)) &&
           !at_line_comment(lexer) && !at_block_comment(lexer) &&
           !((peek(lexer, 0) == '-' || peek(lexer, 0) == '+') && number_follows(lexer, 1))) {
        lexer->position++;
    }
}

/* Scans the token at the current position (not a separator, not the end). */
static enum ldtap_sql_token_type scan_token(struct ldtap_sql_lexer *lexer, bool *unterminated) {
    unsigned char c = peek(lexer, 0);
    size_t prefix = string_prefix_length(lexer);
    bool mysql = lexer->dialect == LDTAP_SQL_DIALECT_MYSQL;
    if (c == '\'' || prefix) {
        bool escapes = mysql || (prefix == 1 && (c | 0x20) == 'e');
        lexer->position += prefix;
        *unterminated = !scan_quoted(lexer, '\'', escapes);
        return LDTAP_SQL_TOKEN_LITERAL;
    }
    if (c == '"' || c == '`') {
        /* MySQL without ANSI_QUOTES reads "…" as a string: never keep it. */
        bool literal = c == '"' && mysql;
        *unterminated = !scan_quoted(lexer, c, literal);
        return literal ? LDTAP_SQL_TOKEN_LITERAL : LDTAP_SQL_TOKEN_QUOTED_NAME;
    }
    if (number_follows(lexer, 0) ||
        ((c == '-' || c == '+') && lexer->unary_context && number_follows(lexer, 1))) {
        lexer->position += (c == '-' || c == '+');
        scan_number(lexer);
        return LDTAP_SQL_TOKEN_LITERAL;
    }
    if (is_word_start(c)) {
        scan_name(lexer);
        return LDTAP_SQL_TOKEN_WORD;
    }
    if (c == '$' && lexer->dialect == LDTAP_SQL_DIALECT_POSTGRESQL && !is_digit(peek(lexer, 1))) {
        size_t tag_length = dollar_tag_length(lexer);
        if (tag_length) {
            *unterminated = !scan_dollar_quoted(lexer, tag_length);
            return LDTAP_SQL_TOKEN_LITERAL;
        }
    }
    if (c == '?' || c == '$' || (c == ':' && is_word_start(peek(lexer, 1))) ||
        (c == '@' && lexer->dialect != LDTAP_SQL_DIALECT_POSTGRESQL && is_word_start(peek(lexer, 1)))) {
        lexer->position++;
        if (scan_name(lexer) || c == '?') {
            return LDTAP_SQL_TOKEN_PLACEHOLDER;
        }
        return LDTAP_SQL_TOKEN_PUNCT; /* a lone '$' */
    }
    if (c == '%' && scan_format_placeholder(lexer)) {
        return LDTAP_SQL_TOKEN_PLACEHOLDER;
    }
    if (c == ':' && peek(lexer, 1) == ':') {
        lexer->position += 2;
        return LDTAP_SQL_TOKEN_PUNCT;
    }
    if (is_operator_char(lexer, c)) {
        scan_operator(lexer);
        return LDTAP_SQL_TOKEN_PUNCT;
    }
    lexer->position++;
    return LDTAP_SQL_TOKEN_PUNCT;
}

static bool sign_may_follow(const struct ldtap_sql_lexer *lexer, const struct ldtap_sql_token *token) {
    if (token->type == LDTAP_SQL_TOKEN_PUNCT) {
        unsigned char c = lexer->text[token->start];
        return c != ')' && c != ']';
    }
    for (size_t i = 0;
         token->type == LDTAP_SQL_TOKEN_WORD && i < sizeof SIGN_KEYWORDS / sizeof *SIGN_KEYWORDS; i++) {
        if (ldtap_sql_token_is(lexer, token, SIGN_KEYWORDS[i])) {
            return true;
        }
    }
    return false;
}

void ldtap_sql_lexer_next(struct ldtap_sql_lexer *lexer, struct ldtap_sql_token *token) {
    *token = (struct ldtap_sql_token){.space_before = skip_separators(lexer)};
    token->start = lexer->position;
    if (lexer->position >= lexer->length) {
        token->type = LDTAP_SQL_TOKEN_END;
        return;
    }
    token->type = scan_token(lexer, &token->unterminated);
    token->length = lexer->position - token->start;
    lexer->unary_context = sign_may_follow(lexer, token);
}
