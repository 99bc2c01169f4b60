/* Address classification, prefixes and host names for egress: every range
 * the host refuses by itself, with a public neighbour beside each that must
 * stay public (so a range that is too wide fails too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "egress/egress.h"

static enum egress_addr_kind kind_of(const char *text)
{
    struct egress_addr a;
    if (egress_addr_parse(text, &a) < 0)
        fail_msg("%s does not parse", text);
    return egress_addr_classify(&a);
}

static void test_classification(void **state)
{
    static const struct {
        const char *addr;
        enum egress_addr_kind kind;
    } cases[] = {
        {"127.0.0.1", EGRESS_ADDR_LOOPBACK},
        {"127.255.255.254", EGRESS_ADDR_LOOPBACK},
        {"::1", EGRESS_ADDR_LOOPBACK},
        {"::ffff:127.0.0.1", EGRESS_ADDR_LOOPBACK}, /* mapped: taken as IPv4 */
        {"10.0.0.1", EGRESS_ADDR_PRIVATE},
        {"172.16.0.1", EGRESS_ADDR_PRIVATE},
        {"172.31.255.255", EGRESS_ADDR_PRIVATE},
        {"192.168.1.1", EGRESS_ADDR_PRIVATE},
        {"fd00::1", EGRESS_ADDR_PRIVATE},
        {"fc00::1", EGRESS_ADDR_PRIVATE},
        {"169.254.169.254", EGRESS_ADDR_LINK_LOCAL}, /* cloud metadata */
        {"fe80::1", EGRESS_ADDR_LINK_LOCAL},
        {"100.64.0.1", EGRESS_ADDR_CGNAT},
        {"100.127.255.255", EGRESS_ADDR_CGNAT},
        {"224.0.0.1", EGRESS_ADDR_MULTICAST},
        {"239.255.255.250", EGRESS_ADDR_MULTICAST},
        {"ff02::1", EGRESS_ADDR_MULTICAST},
        {"0.0.0.0", EGRESS_ADDR_UNSPECIFIED},
        {"0.1.2.3", EGRESS_ADDR_UNSPECIFIED},
        {"::", EGRESS_ADDR_UNSPECIFIED},
        {"255.255.255.255", EGRESS_ADDR_RESERVED},
        {"240.0.0.1", EGRESS_ADDR_RESERVED},
        {"192.0.2.1", EGRESS_ADDR_RESERVED},
        {"64:ff9b::7f00:1", EGRESS_ADDR_RESERVED}, /* NAT64 of 127.0.0.1 */
        {"2002:7f00:1::", EGRESS_ADDR_RESERVED},   /* 6to4 of 127.0.0.1 */
        {"::127.0.0.1", EGRESS_ADDR_RESERVED},     /* IPv4-compatible */
        /* public neighbours */
        {"8.8.8.8", EGRESS_ADDR_PUBLIC},
        {"172.15.255.255", EGRESS_ADDR_PUBLIC},
        {"172.32.0.0", EGRESS_ADDR_PUBLIC},
        {"100.63.255.255", EGRESS_ADDR_PUBLIC},
        {"100.128.0.0", EGRESS_ADDR_PUBLIC},
        {"11.0.0.1", EGRESS_ADDR_PUBLIC},
        {"126.255.255.255", EGRESS_ADDR_PUBLIC},
        {"128.0.0.1", EGRESS_ADDR_PUBLIC},
        {"151.101.0.223", EGRESS_ADDR_PUBLIC},
        {"2a04:4e42::223", EGRESS_ADDR_PUBLIC},
        {"2001:4860:4860::8888", EGRESS_ADDR_PUBLIC},
        {"::ffff:8.8.8.8", EGRESS_ADDR_PUBLIC},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum egress_addr_kind k = kind_of(cases[i].addr);
        if (k != cases[i].kind)
            fail_msg("%s is %s, expected %s", cases[i].addr, egress_addr_kind_name(k),
                     egress_addr_kind_name(cases[i].kind));
    }
}

static void test_parse_and_format(void **state)
{
    struct egress_addr a;
    char buf[64];
    assert_int_equal(egress_addr_parse("[2001:db8::1]", &a), 0);
    egress_addr_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "2001:db8::1");
    assert_int_equal(egress_addr_parse("::ffff:10.1.2.3", &a), 0);
    egress_addr_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "10.1.2.3");
    static const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "[::1", "::1]", "[]", "example.com",
                                "0x7f.0.0.1", "127.1", "1.2.3.4 ", " 1.2.3.4", "fe80::1%eth0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (egress_addr_parse(bad[i], &a) == 0)
            fail_msg("'%s' parsed as an address", bad[i]);
}

static void test_cidr(void **state)
{
    struct egress_cidr c;
    struct egress_addr a;
    assert_int_equal(egress_cidr_parse("10.0.0.0/8", &c), 0);
    assert_int_equal(egress_addr_parse("10.200.1.1", &a), 0);
    assert_true(egress_cidr_contains(&c, &a));
    assert_int_equal(egress_addr_parse("11.0.0.1", &a), 0);
    assert_false(egress_cidr_contains(&c, &a));
    assert_int_equal(egress_cidr_parse("127.0.0.1", &c), 0); /* one address */
    assert_int_equal(c.bits, 32);
    assert_int_equal(egress_addr_parse("127.0.0.2", &a), 0);
    assert_false(egress_cidr_contains(&c, &a));
    assert_int_equal(egress_cidr_parse("fd00::/8", &c), 0);
    assert_int_equal(egress_addr_parse("fd12::1", &a), 0);
    assert_true(egress_cidr_contains(&c, &a));
    assert_int_equal(egress_addr_parse("10.0.0.1", &a), 0);
    assert_false(egress_cidr_contains(&c, &a)); /* families differ */
    assert_int_equal(egress_cidr_parse("::ffff:10.0.0.0/104", &c), 0);
    assert_int_equal(egress_addr_parse("10.9.9.9", &a), 0);
    assert_true(egress_cidr_contains(&c, &a));
    assert_int_equal(egress_cidr_parse("172.16.0.0/12", &c), 0);
    assert_int_equal(egress_addr_parse("172.31.0.1", &a), 0);
    assert_true(egress_cidr_contains(&c, &a));
    assert_int_equal(egress_addr_parse("172.32.0.1", &a), 0);
    assert_false(egress_cidr_contains(&c, &a));
    static const char *bad[] = {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "/8", "10.0.0.0/-1",
                                "::ffff:10.0.0.0/95", "10.0.0.0/0008"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (egress_cidr_parse(bad[i], &c) == 0)
            fail_msg("'%s' parsed as a prefix", bad[i]);
}

static void test_host_names(void **state)
{
    char out[EGRESS_MAX_HOST + 1];
    bool lit;
    struct error err;
    assert_int_equal(egress_host_normalize("PyPI.org.", out, &lit, &err), 0);
    assert_string_equal(out, "pypi.org");
    assert_false(lit);
    assert_int_equal(egress_host_normalize("[::1]", out, &lit, &err), 0);
    assert_string_equal(out, "::1");
    assert_true(lit);
    assert_int_equal(egress_host_normalize("localhost", out, &lit, &err), 0);
    assert_int_equal(egress_host_normalize("files_1.example-x.com", out, &lit, &err), 0);
    char long_label[80];
    memset(long_label, 'a', 64);
    strcpy(long_label + 64, ".com");
    char too_long[300];
    memset(too_long, 'a', sizeof(too_long));
    for (size_t i = 50; i < sizeof(too_long); i += 50)
        too_long[i] = '.';
    too_long[sizeof(too_long) - 1] = '\0';
    const char *bad[] = {"", ".", "a..b", ".a", "a b", "a/b", "a:b", "a@b", "évil.com", "a\nb", "2130706433",
                         "127.1", long_label, too_long};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (egress_host_normalize(bad[i], out, &lit, &err) == 0)
            fail_msg("'%s' taken as a host", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_parse_and_format),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_host_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
