/* A forgiving SQL tokenizer for the sanitiser: splits any bytes into words, quoted names,
 * literals, placeholders and punctuation, skipping comments, per dialect. */
#ifndef LDTAP_SQL_LEXER_H
#define LDTAP_SQL_LEXER_H

#include <stdbool.h>
#include <stddef.h>

enum ldtap_sql_dialect {
    LDTAP_SQL_DIALECT_POSTGRESQL, /* E'', $tag$…$tag$, $1, nested comments, "names" */
    LDTAP_SQL_DIALECT_MYSQL,      /* backslash escapes, "strings", `names`, # comments */
    LDTAP_SQL_DIALECT_SQLITE,     /* "names", `names`, ?NNN, :name, @name, $name */
};

enum ldtap_sql_token_type {
    LDTAP_SQL_TOKEN_END,
    LDTAP_SQL_TOKEN_WORD,        /* keyword or bare identifier */
    LDTAP_SQL_TOKEN_QUOTED_NAME, /* "name" or `name`, quotes included */
    LDTAP_SQL_TOKEN_LITERAL,     /* string, number, hex, bit string, dollar-quoted body */
    LDTAP_SQL_TOKEN_PLACEHOLDER, /* ? ?1 $1 :name @name %s %(name)s */
    LDTAP_SQL_TOKEN_PUNCT,       /* ( ) , ; . :: [ ] or an operator run such as <= or ->> */
};

struct ldtap_sql_token {
    enum ldtap_sql_token_type type;
    size_t start, length; /* bytes of the input */
    bool space_before;    /* whitespace or a comment separated it from the previous token */
    bool unterminated;    /* a string, quoted name or dollar quote ran to the end of input */
};

struct ldtap_sql_lexer {
    const unsigned char *text;
    size_t length;
    size_t position;
    enum ldtap_sql_dialect dialect;
    bool unary_context; /* a + or - here would be a sign, not an operator */
};

void ldtap_sql_lexer_init(struct ldtap_sql_lexer *lexer, const char *text, size_t length,
                          enum ldtap_sql_dialect dialect);
/* The next token; type LDTAP_SQL_TOKEN_END at the end of input. Never fails. */
void ldtap_sql_lexer_next(struct ldtap_sql_lexer *lexer, struct ldtap_sql_token *token);

/* Whether `token` is the word `upper` (an upper-case ASCII keyword), ignoring case.
 * Inline: the sanitiser asks this for dozens of keywords per token, and nearly every one
 * differs at its first letter, so a call would cost more than the comparison. No strlen
 * either: `upper` ending early fails on its NUL. */
static inline bool ldtap_sql_token_is(const struct ldtap_sql_lexer *lexer,
                                      const struct ldtap_sql_token *token, const char *upper) {
    if (token->type != LDTAP_SQL_TOKEN_WORD) {
        return false;
    }
    const unsigned char *word = lexer->text + token->start;
    for (size_t i = 0; i < token->length; i++) {
        unsigned char c = word[i];
        if (upper[i] == '\0' || (c >= 'a' && c <= 'z' ? c - 32 : c) != (unsigned char)upper[i]) {
            return false;
        }
    }
    return upper[token->length] == '\0';
}

#endif
