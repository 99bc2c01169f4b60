/* Internal to src/rego, included first by every internal header (value.h,
 * glob.h, unicode.h, and through them the rest).
 *
 * The interpreter ships as a library on its own, so every symbol it exports
 * carries the rego_ prefix. Internal names stay short in the code (rv_int,
 * ev_query, sb_puts): the list below gives each one that more than one file
 * shares its prefixed link name, as zlib's Z_PREFIX does. A function used by
 * one file only is static instead. A new cross-file internal goes here too;
 * `make test-rego-symbols` fails while one is missing. */
#ifndef ENCLAVE_REGO_INTERNAL_H
#define ENCLAVE_REGO_INTERNAL_H

/* The one way src/rego stops the process, with where and why on stderr:
 * for an invariant of the interpreter that does not hold (REGO_UNREACHABLE),
 * and for an allocation that failed where no error can be returned yet
 * (REGO_OOM). Never for anything a policy or an input can cause. */
__attribute__((noreturn, cold, format(printf, 3, 4))) void rego_fatal(const char *file, int line,
                                                                      const char *fmt, ...);
#define REGO_OOM() rego_fatal(__FILE__, __LINE__, "out of memory")
#define REGO_UNREACHABLE(why) rego_fatal(__FILE__, __LINE__, "unreachable: %s", why)

/* mem.h: the allocator with a reserve, and its test hooks. */
#define rg_allocations rego_rg_allocations
#define rg_calloc rego_rg_calloc
#define rg_fail_at rego_rg_fail_at
#define rg_failures rego_rg_failures
#define rg_free rego_rg_free
#define rg_from_reserve rego_rg_from_reserve
#define rg_malloc rego_rg_malloc
#define rg_realloc rego_rg_realloc
#define rg_reserve_live rego_rg_reserve_live
#define rg_strdup rego_rg_strdup
#define rg_strndup rego_rg_strndup
#define rg_try_realloc rego_rg_try_realloc
#define rg_usable_size rego_rg_usable_size
#define rv_budget_out_of_memory rego_rv_budget_out_of_memory


#define bi_base64_chars rego_bi_base64_chars
#define bi_bits_and rego_bi_bits_and
#define bi_bits_lsh rego_bi_bits_lsh
#define bi_bits_negate rego_bi_bits_negate
#define bi_bits_or rego_bi_bits_or
#define bi_bits_rsh rego_bi_bits_rsh
#define bi_bits_xor rego_bi_bits_xor
#define bi_crypto_sha512 rego_bi_crypto_sha512
#define bi_error rego_bi_error
#define bi_glob_quote_meta rego_bi_glob_quote_meta
#define bi_go_float rego_bi_go_float
#define bi_graph_reachable rego_bi_graph_reachable
#define bi_graph_reachable_paths rego_bi_graph_reachable_paths
#define bi_hex_decode rego_bi_hex_decode
#define bi_hex_encode rego_bi_hex_encode
#define bi_hmac_equal rego_bi_hmac_equal
#define bi_hmac_md5 rego_bi_hmac_md5
#define bi_hmac_sha1 rego_bi_hmac_sha1
#define bi_hmac_sha256 rego_bi_hmac_sha256
#define bi_hmac_sha512 rego_bi_hmac_sha512
#define bi_json_filter rego_bi_json_filter
#define bi_json_marshal_with_options rego_bi_json_marshal_with_options
#define bi_json_match_schema rego_bi_json_match_schema
#define bi_json_patch rego_bi_json_patch
#define bi_json_remove rego_bi_json_remove
#define bi_json_verify_schema rego_bi_json_verify_schema
#define bi_jwt_decode rego_bi_jwt_decode
#define bi_jwt_verify_es256 rego_bi_jwt_verify_es256
#define bi_jwt_verify_hs256 rego_bi_jwt_verify_hs256
#define bi_jwt_verify_rs256 rego_bi_jwt_verify_rs256
#define bi_numbers_range_step rego_bi_numbers_range_step
#define bi_object_subset rego_bi_object_subset
#define bi_rand_intn rego_bi_rand_intn
#define bi_regex_globs_match rego_bi_regex_globs_match
#define bi_semver_compare rego_bi_semver_compare
#define bi_semver_is_valid rego_bi_semver_is_valid
#define bi_sprintf rego_bi_sprintf
#define bi_string_of rego_bi_string_of
#define bi_strings_render_template rego_bi_strings_render_template
#define bi_time_add_date rego_bi_time_add_date
#define bi_time_clock rego_bi_time_clock
#define bi_time_date rego_bi_time_date
#define bi_time_diff rego_bi_time_diff
#define bi_time_format rego_bi_time_format
#define bi_time_parse_duration_ns rego_bi_time_parse_duration_ns
#define bi_time_parse_ns rego_bi_time_parse_ns
#define bi_time_parse_rfc3339_ns rego_bi_time_parse_rfc3339_ns
#define bi_time_weekday rego_bi_time_weekday
#define bi_type_error rego_bi_type_error
#define bi_units_parse rego_bi_units_parse
#define bi_urlquery_decode rego_bi_urlquery_decode
#define bi_urlquery_decode_object rego_bi_urlquery_decode_object
#define bi_urlquery_encode rego_bi_urlquery_encode
#define bi_urlquery_encode_object rego_bi_urlquery_encode_object
#define bi_uuid_rfc4122 rego_bi_uuid_rfc4122
#define bi_want rego_bi_want
#define bi_want_int rego_bi_want_int
#define bi_yaml_is_valid rego_bi_yaml_is_valid
#define bi_yaml_marshal rego_bi_yaml_marshal
#define bi_yaml_unmarshal rego_bi_yaml_unmarshal

#define body_free rego_body_free

#define ev_builtin_name rego_ev_builtin_name
#define ev_call_value rego_ev_call_value
#define ev_init rego_ev_init
#define ev_init_store rego_ev_init_store
#define ev_node_value rego_ev_node_value
#define ev_now_ns rego_ev_now_ns
#define ev_query rego_ev_query
#define ev_query_mode rego_ev_query_mode
#define ev_release rego_ev_release
#define ev_store_free rego_ev_store_free

#define fold_orbit rego_fold_orbit
#define fold_orbit_count rego_fold_orbit_count

#define module_free rego_module_free

#define obj_match rego_obj_match
#define obj_pairable rego_obj_pairable

#define rv_arith rego_rv_arith
#define rv_array_take rego_rv_array_take
#define rv_as_double rego_rv_as_double
#define rv_as_int rego_rv_as_int
#define rv_block_free rego_rv_block_free
#define rv_block_release rego_rv_block_release
#define rv_bool rego_rv_bool
#define rv_budget_begin rego_rv_budget_begin
#define rv_budget_end rego_rv_budget_end
#define rv_budget_exceeded rego_rv_budget_exceeded
#define rv_budget_limit rego_rv_budget_limit
#define rv_budget_room rego_rv_budget_room
#define rv_compare rego_rv_compare
#define rv_cstr rego_rv_cstr
#define rv_double rego_rv_double
#define rv_empty_array rego_rv_empty_array
#define rv_empty_object rego_rv_empty_object
#define rv_empty_set rego_rv_empty_set
#define rv_free_ rego_rv_free_
#define rv_freeze rego_rv_freeze
#define rv_from_json rego_rv_from_json
#define rv_from_json_block rego_rv_from_json_block
#define rv_from_json_block_in rego_rv_from_json_block_in
#define rv_frozen_free rego_rv_frozen_free
#define rv_int rego_rv_int
#define rv_merge rego_rv_merge
#define rv_null rego_rv_null
#define rv_number_text rego_rv_number_text
#define rv_object_get rego_rv_object_get
#define rv_object_get_str rego_rv_object_get_str
#define rv_object_last_wins rego_rv_object_last_wins
#define rv_object_put rego_rv_object_put
#define rv_object_take rego_rv_object_take
#define rv_own rego_rv_own
#define rv_qsort_cmp rego_rv_qsort_cmp
#define rv_set_find rego_rv_set_find
#define rv_sorted_find rego_rv_sorted_find
#define rv_spares_free rego_rv_spares_free
#define rv_set_take rego_rv_set_take
#define rv_sign rego_rv_sign
#define rv_string rego_rv_string
#define rv_string_take rego_rv_string_take
#define rv_to_json rego_rv_to_json
#define rv_type_name rego_rv_type_name
#define rv_write rego_rv_write
#define rv_write_json_string rego_rv_write_json_string
#define rv_write_number rego_rv_write_number

#define rvbuf_clear rego_rvbuf_clear
#define rvbuf_reserve rego_rvbuf_reserve
#define rvbuf_push rego_rvbuf_push

#define sb_add rego_sb_add
#define sb_printf rego_sb_printf
#define sb_putc rego_sb_putc
#define sb_puts rego_sb_puts
#define sb_steal rego_sb_steal

#define term_free rego_term_free
#define term_new rego_term_new

#define uni_decode rego_uni_decode
#define uni_encode rego_uni_encode
#define uni_is_space rego_uni_is_space
#define uni_lower rego_uni_lower
#define uni_lower_count rego_uni_lower_count
#define uni_ranges rego_uni_ranges
#define uni_ranges_count rego_uni_ranges_count
#define uni_rune_count rego_uni_rune_count
#define uni_space rego_uni_space
#define uni_space_count rego_uni_space_count
#define uni_tables rego_uni_tables
#define uni_lower_bound rego_uni_lower_bound
#define uni_simple_fold rego_uni_simple_fold
#define uni_tables_count rego_uni_tables_count
#define uni_to_lower rego_uni_to_lower
#define uni_to_upper rego_uni_to_upper
#define uni_upper rego_uni_upper
#define uni_upper_count rego_uni_upper_count

#endif
