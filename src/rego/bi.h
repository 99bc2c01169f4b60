/* Internal to src/rego: what the files of builtins share. The table of
 * builtins (names, arities, functions) is REGO_BUILTINS in builtins.c, the
 * one list; the functions defined in the other bi_*.c files are declared
 * here. Conventions are those of builtins.c: arguments borrowed, 0 with a
 * new reference in *out, BI_UNDEFINED, or < 0 through bi_type_error /
 * bi_error. */
#ifndef ENCLAVE_REGO_BI_H
#define ENCLAVE_REGO_BI_H

#include "rego/ast.h"
#include "rego/eval.h"

#define S(v) ((v)->u.str.s)
#define SL(v) ((v)->u.str.len)

/* "operand N must be T but got U" (eval_type_error) unless a[i] is a T. */
int bi_want(struct ev *ev, struct rv **a, int i, int type);
int bi_want_int(struct ev *ev, struct rv **a, int i, int64_t *out);
#define WANT(i, t)                          \
    do {                                    \
        if (bi_want(ev, a, (i), (t)) < 0)   \
            return -1;                      \
    } while (0)
struct rv *bi_string_of(struct sbuf *b);   /* takes b's text */
/* Appends the bytes of the n base64 characters at s (no padding) in the
 * 64-character alphabet to out: n, or the index of the first character not
 * in it. */
size_t bi_base64_chars(const char *s, size_t n, const char *alphabet, struct sbuf *out);

#define BI_FN(name) int name(struct ev *ev, struct rv **a, struct rv **out)

/* bi_data.c */
BI_FN(bi_object_subset);
BI_FN(bi_hex_encode);
BI_FN(bi_hex_decode);
BI_FN(bi_urlquery_encode);
BI_FN(bi_urlquery_decode);
BI_FN(bi_urlquery_encode_object);
BI_FN(bi_urlquery_decode_object);
BI_FN(bi_bits_or);
BI_FN(bi_bits_and);
BI_FN(bi_bits_xor);
BI_FN(bi_bits_negate);
BI_FN(bi_bits_lsh);
BI_FN(bi_bits_rsh);
BI_FN(bi_numbers_range_step);
BI_FN(bi_semver_is_valid);
BI_FN(bi_semver_compare);
BI_FN(bi_units_parse);
BI_FN(bi_graph_reachable);
BI_FN(bi_graph_reachable_paths);
BI_FN(bi_json_filter);
BI_FN(bi_json_remove);
BI_FN(bi_json_patch);
BI_FN(bi_glob_quote_meta);
BI_FN(bi_crypto_sha512);
BI_FN(bi_hmac_md5);
BI_FN(bi_hmac_sha1);
BI_FN(bi_hmac_sha256);
BI_FN(bi_hmac_sha512);
BI_FN(bi_hmac_equal);
BI_FN(bi_regex_globs_match);

/* bi_time.c */
BI_FN(bi_time_parse_rfc3339_ns);
BI_FN(bi_time_parse_duration_ns);
BI_FN(bi_time_date);
BI_FN(bi_time_clock);
BI_FN(bi_time_weekday);
BI_FN(bi_time_add_date);
BI_FN(bi_time_diff);
BI_FN(bi_time_format);
BI_FN(bi_time_parse_ns);

/* bi_crypto.c */
BI_FN(bi_jwt_decode);
BI_FN(bi_jwt_verify_hs256);
BI_FN(bi_jwt_verify_rs256);
BI_FN(bi_jwt_verify_es256);
BI_FN(bi_uuid_rfc4122);
BI_FN(bi_rand_intn);

/* bi_yaml.c */
BI_FN(bi_yaml_unmarshal);
BI_FN(bi_yaml_marshal);
BI_FN(bi_yaml_is_valid);

/* bi_json.c */
BI_FN(bi_json_marshal_with_options);
/* bi_schema.c */
BI_FN(bi_json_verify_schema);
BI_FN(bi_json_match_schema);
/* bi_template.c */
BI_FN(bi_strings_render_template);
/* bi_fmt.c */
BI_FN(bi_sprintf);
/* Go's strconv.FormatFloat(f, 'g' or 'G', -1, 64). */
void bi_go_float(struct sbuf *b, double f, char verb);

#endif
