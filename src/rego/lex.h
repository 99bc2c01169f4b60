/* Internal to src/rego: the lexer's tokens and the comments it sees, for the
 * parser (parse.c) and the formatter (fmt.c). The evaluator never sees
 * comments: they are kept in a list beside the module (rego_lex), not in the
 * tree. */
#ifndef ENCLAVE_REGO_LEX_H
#define ENCLAVE_REGO_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rego/rego.h"
#include "rego/internal.h"

enum tok_type {
    T_EOF, T_IDENT, T_STRING, T_NUMBER,
    T_LBRACE, T_RBRACE, T_LBRACK, T_RBRACK, T_LPAREN, T_RPAREN,
    T_DOT, T_COMMA, T_SEMI, T_COLON, T_BAR, T_AMP,
    T_UNIFY, T_ASSIGN, T_EQ, T_NEQ, T_LT, T_LTE, T_GT, T_GTE,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT,
};

struct tok {
    uint8_t type;
    bool nl_before;      /* a newline separates this token from the previous one */
    bool ws_before;
    int line, col;
    size_t off, len;
    char *str;           /* T_STRING: decoded (malloc'd) */
    size_t slen;
};

/* A comment: `#` to the end of its line (the newline excluded). */
struct rego_comment {
    size_t off, len;
    int line, col;
};

struct rego_lexed {
    struct tok *toks;            /* the last one is T_EOF */
    size_t ntoks;
    struct rego_comment *comments;   /* in source order */
    size_t ncomments;
};

/* Tokenize text as the parser does, keeping the comments. < 0 (and nothing
 * to free) on a lexical error. */
int rego_lex(const char *file, const char *text, size_t len, struct rego_lexed *out,
             struct rego_error *err);
void rego_lexed_free(struct rego_lexed *lx);

#endif
