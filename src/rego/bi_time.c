/* time.* builtins with Go's time package semantics: nanoseconds since the
 * Unix epoch as int64, the proleptic Gregorian calendar, time zones from
 * the system's TZif files (/usr/share/zoneinfo), Go's duration syntax and
 * Go's reference-time layouts for time.format. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rego/bi.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

#define NS_PER_SEC 1000000000LL

/* ------------------------------------------------------------------ calendar */

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

struct civil {
    int64_t year;
    int month, day, hour, min, sec, wday, yday;
    int64_t nsec;
    int offset;          /* seconds east of UTC */
    char abbr[16];
};

/* ------------------------------------------------------------------ zones */

struct zone {
    char name[64];
    int64_t *trans;      /* transition times (Unix seconds) */
    unsigned char *idx;  /* type index per transition */
    size_t ntrans;
    struct { int32_t off; unsigned char abbr; } *types;
    size_t ntypes;
    char *abbrs;
    size_t nabbrs;
};

static void zone_free(struct zone *z)
{
    free(z->trans);
    free(z->idx);
    free(z->types);
    free(z->abbrs);
    memset(z, 0, sizeof *z);
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Reads the version 2+ (64-bit) data of a TZif file. */
static int zone_load(const char *name, struct zone *z)
{
    memset(z, 0, sizeof *z);
    snprintf(z->name, sizeof z->name, "%s", name);
    if (!*name || !strcmp(name, "UTC"))
        return 0;
    size_t n = strlen(name);
    if (n > 60 || name[0] == '/' || strstr(name, ".."))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("/_+-", name[i]))
            return -1;
    char path[128];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    unsigned char *buf = NULL;
    int rc = -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 44 || st.st_size > (1 << 20))
        goto out;
    buf = malloc((size_t)st.st_size);
    if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size)
        goto out;
    size_t len = (size_t)st.st_size;
    if (memcmp(buf, "TZif", 4) != 0 || buf[4] < '2')
        goto out;
    /* skip the version 1 block */
    uint32_t c[6];
    for (int i = 0; i < 6; i++)
        c[i] = be32(buf + 20 + 4 * i);   /* isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
    size_t v1 = 44 + (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
    if (v1 + 44 > len || memcmp(buf + v1, "TZif", 4) != 0)
        goto out;
    const unsigned char *h = buf + v1;
    for (int i = 0; i < 6; i++)
        c[i] = be32(h + 20 + 4 * i);
    const unsigned char *p = h + 44;
    size_t need = (size_t)c[3] * 9 + (size_t)c[4] * 6 + c[5];
    if (c[4] == 0 || (size_t)(p - buf) + need > len)
        goto out;
    z->ntrans = c[3];
    z->ntypes = c[4];
    z->nabbrs = c[5];
    z->trans = calloc(z->ntrans + 1, sizeof *z->trans);
    z->idx = calloc(z->ntrans + 1, 1);
    z->types = calloc(z->ntypes, sizeof *z->types);
    z->abbrs = calloc(z->nabbrs + 1, 1);
    if (!z->trans || !z->idx || !z->types || !z->abbrs)
        goto out;
    for (size_t i = 0; i < z->ntrans; i++)
        z->trans[i] = (int64_t)((uint64_t)be32(p + 8 * i) << 32 | be32(p + 8 * i + 4));
    p += 8 * z->ntrans;
    for (size_t i = 0; i < z->ntrans; i++)
        if ((z->idx[i] = p[i]) >= z->ntypes)
            goto out;
    p += z->ntrans;
    for (size_t i = 0; i < z->ntypes; i++) {
        z->types[i].off = (int32_t)be32(p + 6 * i);
        z->types[i].abbr = p[6 * i + 5];
        if (z->types[i].abbr >= z->nabbrs)
            goto out;
    }
    p += 6 * z->ntypes;
    memcpy(z->abbrs, p, z->nabbrs);
    rc = 0;
out:
    free(buf);
    close(fd);
    if (rc < 0)
        zone_free(z);
    return rc;
}

/* Offset and abbreviation in effect at Unix second t. After the last
 * transition the last type holds (the files carry transitions to 2037). */
static void zone_at(const struct zone *z, int64_t t, int *off, char abbr[16])
{
    if (!z->ntypes) {
        *off = 0;
        snprintf(abbr, 16, "UTC");
        return;
    }
    size_t type = 0;
    if (z->ntrans && t >= z->trans[0]) {
        size_t lo = 0, hi = z->ntrans;
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (z->trans[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        type = z->idx[lo];
    } else {
        for (size_t i = 0; i < z->ntypes; i++)
            if (z->types[i].off >= -86400) {
                type = i;
                break;
            }
    }
    *off = z->types[type].off;
    snprintf(abbr, 16, "%s", z->abbrs + z->types[type].abbr);
}

static void to_civil(int64_t ns, const struct zone *z, struct civil *c)
{
    int64_t sec = floor_div(ns, NS_PER_SEC);
    memset(c, 0, sizeof *c);
    c->nsec = ns - sec * NS_PER_SEC;
    zone_at(z, sec, &c->offset, c->abbr);
    int64_t local = sec + c->offset;
    int64_t days = floor_div(local, 86400), rem = local - days * 86400;
    civil_from_days(days, &c->year, &c->month, &c->day);
    c->hour = (int)(rem / 3600);
    c->min = (int)(rem / 60 % 60);
    c->sec = (int)(rem % 60);
    c->wday = (int)((days % 7 + 11) % 7);   /* 1970-01-01 was a Thursday */
    c->yday = (int)(days - days_from_civil(c->year, 1, 1)) + 1;
}

/* ------------------------------------------------------------------ arguments */

/* x: a number of nanoseconds, or [ns, zone] (or [ns, zone, layout] when
 * layout is given). */
static int want_time(struct ev *ev, struct rv *x, int64_t *ns, struct zone *z, const char **layout,
                     size_t *layout_len)
{
    memset(z, 0, sizeof *z);
    struct rv *num = x, *tz = NULL;
    if (x->type == RV_ARRAY) {
        /* as OPA at run time: [ns], [ns, zone] or [ns, zone, layout]; more
         * elements are ignored, the layout where no function uses one */
        size_t n = x->u.arr.len;
        if (n == 0)
            return bi_type_error(ev, "operand 1 must be one of {number, array} but got array of %zu elements", n);
        num = x->u.arr.v[0];
        if (num->type != RV_NUMBER)
            return bi_type_error(ev, "operand 1 must be number but got %s", rv_type_name(num));
        if (n > 1) {
            tz = x->u.arr.v[1];
            if (tz->type != RV_STRING)
                return bi_type_error(ev, "operand 1 must be string but got %s", rv_type_name(tz));
        }
        if (n > 2) {
            struct rv *l = x->u.arr.v[2];
            if (l->type != RV_STRING)
                return bi_type_error(ev, "operand 1 must be string but got %s", rv_type_name(l));
            if (layout) {
                *layout = S(l);
                *layout_len = SL(l);
            }
        }
    } else if (x->type != RV_NUMBER) {
        return bi_type_error(ev, "operand 1 must be one of {number, array} but got %s", rv_type_name(x));
    }
    if (num->type != RV_NUMBER)
        return bi_type_error(ev, "operand 1 must be number but got %s", rv_type_name(num));
    if (num->is_big)
        return bi_error(ev, "timestamp too big");
    if (num->is_int)
        *ns = num->u.i;
    else if (!(num->u.d < 9223372036854775807.0 && num->u.d >= -9223372036854775808.0) ||
             num->u.d != trunc(num->u.d))
        return bi_error(ev, "timestamp too big");   /* OPA: not exactly an int64, fractions too */
    else
        *ns = (int64_t)num->u.d;
    if (tz && !(SL(tz) == 0 || !strcmp(S(tz), "UTC") || !strcmp(S(tz), "Local"))) {
        if (zone_load(S(tz), z) < 0)
            return bi_error(ev, "unknown time zone %s", S(tz));
    }
    return 0;
}

/* The civil time of a time.* argument (ns, or [ns, zone]) in its zone. */
static int want_civil(struct ev *ev, struct rv *arg, struct civil *c)
{
    int64_t ns;
    struct zone z;
    if (want_time(ev, arg, &ns, &z, NULL, NULL) < 0)
        return -1;
    to_civil(ns, &z, c);
    zone_free(&z);
    return 0;
}

static struct rv *int_triple(int64_t x, int64_t y, int64_t z)
{
    struct rvbuf b = { 0 };
    rvbuf_push(&b, rv_int(x));
    rvbuf_push(&b, rv_int(y));
    rvbuf_push(&b, rv_int(z));
    return rv_array_take(&b);
}

BI_FN(bi_time_date)
{
    struct civil c;
    if (want_civil(ev, a[0], &c) < 0)
        return -1;
    *out = int_triple(c.year, c.month, c.day);
    return 0;
}

BI_FN(bi_time_clock)
{
    struct civil c;
    if (want_civil(ev, a[0], &c) < 0)
        return -1;
    *out = int_triple(c.hour, c.min, c.sec);
    return 0;
}

static const char *const weekdays[] = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" };
static const char *const months[] = { "January", "February", "March", "April", "May", "June", "July",
                                      "August", "September", "October", "November", "December" };

BI_FN(bi_time_weekday)
{
    struct civil c;
    if (want_civil(ev, a[0], &c) < 0)
        return -1;
    *out = rv_cstr(weekdays[c.wday]);
    return 0;
}

/* Go's time.Date normalization of (y, m, d) then back to nanoseconds, UTC. */
static bool ns_from_civil(int64_t y, int64_t m, int64_t d, int64_t secs_of_day, int64_t nsec, int64_t *ns)
{
    /* months beyond 1..12 carry into years */
    int64_t m0 = m - 1;
    y += floor_div(m0, 12);
    m = m0 - floor_div(m0, 12) * 12 + 1;
    if (y > 300000 || y < -300000)
        return false;
    int64_t days = days_from_civil(y, m, 1) + d - 1;
    int64_t s;
    if (__builtin_mul_overflow(days, (int64_t)86400, &s) || __builtin_add_overflow(s, secs_of_day, &s))
        return false;
    if (__builtin_mul_overflow(s, NS_PER_SEC, &s) || __builtin_add_overflow(s, nsec, &s))
        return false;
    *ns = s;
    return true;
}

BI_FN(bi_time_add_date)
{
    int64_t ns, y, m, d;
    if (bi_want_int(ev, a, 0, &ns) < 0 || bi_want_int(ev, a, 1, &y) < 0 || bi_want_int(ev, a, 2, &m) < 0 ||
        bi_want_int(ev, a, 3, &d) < 0)
        return -1;
    struct zone z = { 0 };
    struct civil c;
    to_civil(ns, &z, &c);
    int64_t r;
    if (y > 1000000 || y < -1000000 || m > 12000000 || m < -12000000 || d > 400000000 || d < -400000000 ||
        !ns_from_civil(c.year + y, c.month + m, c.day + d, c.hour * 3600 + c.min * 60 + c.sec, c.nsec, &r))
        return bi_error(ev, "time outside of valid range");
    *out = rv_int(r);
    return 0;
}

BI_FN(bi_time_diff)
{
    int64_t n1, n2;
    struct zone z1, z2;
    if (want_time(ev, a[0], &n1, &z1, NULL, NULL) < 0)
        return -1;
    if (want_time(ev, a[1], &n2, &z2, NULL, NULL) < 0) {
        zone_free(&z1);
        return -1;
    }
    /* Go: the second time is seen in the first one's location */
    struct civil c1, c2;
    to_civil(n1, &z1, &c1);
    to_civil(n2, &z1, &c2);
    zone_free(&z1);
    zone_free(&z2);
    if (n1 > n2) {
        struct civil t = c1;
        c1 = c2;
        c2 = t;
    }
    int64_t year = c2.year - c1.year, month = c2.month - c1.month, day = c2.day - c1.day;
    int64_t hour = c2.hour - c1.hour, min = c2.min - c1.min, sec = c2.sec - c1.sec;
    if (sec < 0) { sec += 60; min--; }
    if (min < 0) { min += 60; hour--; }
    if (hour < 0) { hour += 24; day--; }
    if (day < 0) {
        /* days in c1's month: Go normalizes day 32 into the next month */
        int64_t y32;
        int m32, d32;
        civil_from_days(days_from_civil(c1.year, c1.month, 1) + 31, &y32, &m32, &d32);
        day += 32 - d32;
        month--;
    }
    if (month < 0) { month += 12; year--; }
    struct rvbuf b = { 0 };
    rvbuf_push(&b, rv_int(year));
    rvbuf_push(&b, rv_int(month));
    rvbuf_push(&b, rv_int(day));
    rvbuf_push(&b, rv_int(hour));
    rvbuf_push(&b, rv_int(min));
    rvbuf_push(&b, rv_int(sec));
    *out = rv_array_take(&b);
    return 0;
}

/* ------------------------------------------------------------------ parsing */

static bool digits(const char *s, size_t n, size_t at, size_t count, int64_t *v)
{
    if (at + count > n)
        return false;
    *v = 0;
    for (size_t i = 0; i < count; i++) {
        if (!isdigit((unsigned char)s[at + i]))
            return false;
        *v = *v * 10 + (s[at + i] - '0');
    }
    return true;
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Go's time.Parse(time.RFC3339Nano, s). */
BI_FN(bi_time_parse_rfc3339_ns)
{
    WANT(0, RV_STRING);
    const char *s = S(a[0]);
    size_t n = SL(a[0]);
    int64_t y, mo, d, h, mi, se, nsec = 0, oh = 0, om = 0;
    size_t i = 19;
    int sign = 0;
    if (!digits(s, n, 0, 4, &y) || n < 20 || s[4] != '-' || !digits(s, n, 5, 2, &mo) || s[7] != '-' ||
        !digits(s, n, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s, n, 11, 2, &h) || s[13] != ':' ||
        !digits(s, n, 14, 2, &mi) || s[16] != ':' || !digits(s, n, 17, 2, &se))
        goto bad;
    if (i < n && (s[i] == '.' || s[i] == ',')) {
        size_t st = ++i;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
        if (i == st || i - st > 9)
            goto bad;
        int64_t f;
        digits(s, n, st, i - st, &f);
        for (size_t k = i - st; k < 9; k++)
            f *= 10;
        nsec = f;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '-' ? -1 : 1;
        if (!digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' || !digits(s, n, i + 4, 2, &om))
            goto bad;
        i += 6;
    } else {
        goto bad;
    }
    if (i != n || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (int)mo) || h > 23 || mi > 59 || se > 59 ||
        oh > 23 || om > 59)
        goto bad;
    {
        int64_t off = sign * (oh * 3600 + om * 60), r;
        /* the range of int64 nanoseconds: check in seconds first */
        int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
        __int128 t = (__int128)secs * NS_PER_SEC + nsec;
        if (secs < -9223372038LL || secs > 9223372037LL || t < INT64_MIN || t > INT64_MAX)
            return bi_error(ev, "time outside of valid range");
        r = (int64_t)t;
        *out = rv_int(r);
        return 0;
    }
bad:
    return bi_error(ev, "parsing time \"%s\" as \"2006-01-02T15:04:05.999999999Z07:00\": cannot parse", s);
}

/* Go's time.ParseDuration. */
BI_FN(bi_time_parse_duration_ns)
{
    WANT(0, RV_STRING);
    const char *s = S(a[0]), *orig = s;
    size_t n = SL(a[0]);
    const char *end = s + n;
    bool neg = false;
    if (s < end && (*s == '-' || *s == '+')) {
        neg = *s == '-';
        s++;
    }
    if (end - s == 1 && *s == '0') {
        *out = rv_int(0);
        return 0;
    }
    if (s == end)
        return bi_error(ev, "time: invalid duration \"%s\"", orig);
    unsigned __int128 total = 0;
    while (s < end) {
        uint64_t v = 0, f = 0;
        double scale = 1;
        const char *st = s;
        while (s < end && isdigit((unsigned char)*s)) {
            if (v > (UINT64_MAX - 9) / 10)
                return bi_error(ev, "time: invalid duration \"%s\"", orig);
            v = v * 10 + (uint64_t)(*s++ - '0');
        }
        bool pre = s != st, post = false;
        if (s < end && *s == '.') {
            s++;
            const char *fs = s;
            while (s < end && isdigit((unsigned char)*s)) {
                if (f < UINT64_MAX / 100) {
                    f = f * 10 + (uint64_t)(*s - '0');
                    scale *= 10;
                }
                s++;
            }
            post = s != fs;
        }
        if (!pre && !post)
            return bi_error(ev, "time: invalid duration \"%s\"", orig);
        const char *us = s;
        while (s < end && *s != '.' && !isdigit((unsigned char)*s))
            s++;
        size_t ul = (size_t)(s - us);
        if (ul == 0)
            return bi_error(ev, "time: missing unit in duration \"%s\"", orig);
        static const struct { const char *u; uint64_t ns; } units[] = {
            { "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "\xce\xbcs", 1000 }, { "ms", 1000000 },
            { "s", 1000000000ULL }, { "m", 60000000000ULL }, { "h", 3600000000000ULL },
        };
        size_t k;
        for (k = 0; k < sizeof units / sizeof units[0]; k++)
            if (strlen(units[k].u) == ul && !memcmp(units[k].u, us, ul))
                break;
        if (k == sizeof units / sizeof units[0])
            return bi_error(ev, "time: unknown unit \"%.*s\" in duration \"%s\"", (int)ul, us, orig);
        unsigned __int128 part = (unsigned __int128)v * units[k].ns;
        if (f)
            part += (unsigned __int128)((double)f * ((double)units[k].ns / scale));
        total += part;
        if (total > (unsigned __int128)1 << 63)
            return bi_error(ev, "time: invalid duration \"%s\"", orig);
    }
    if (!neg && total > (unsigned __int128)INT64_MAX)
        return bi_error(ev, "time: invalid duration \"%s\"", orig);
    *out = rv_int(neg ? (int64_t)(0 - (uint64_t)total) : (int64_t)total);
    return 0;
}

/* ------------------------------------------------------------------ formatting */

static bool has_prefix(const char *s, size_t n, const char *p)
{
    size_t l = strlen(p);
    return n >= l && memcmp(s, p, l) == 0;
}

static void put_num(struct sbuf *b, int64_t v, int width, char pad)
{
    char tmp[32];
    bool neg = v < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int p = (int)sizeof tmp;
    do {
        tmp[--p] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while ((int)sizeof tmp - p < width)
        tmp[--p] = pad;
    if (neg)
        sb_putc(b, '-');
    sb_add(b, tmp + p, sizeof tmp - (size_t)p);
}

static void put_zone(struct sbuf *b, int off, bool z_for_utc, bool colon, bool seconds, bool hours_only)
{
    if (z_for_utc && off == 0) {
        sb_putc(b, 'Z');
        return;
    }
    int a = off < 0 ? -off : off;
    sb_putc(b, off < 0 ? '-' : '+');
    put_num(b, a / 3600, 2, '0');
    if (hours_only)
        return;
    if (colon)
        sb_putc(b, ':');
    put_num(b, a / 60 % 60, 2, '0');
    if (seconds) {
        if (colon)
            sb_putc(b, ':');
        put_num(b, a % 60, 2, '0');
    }
}

/* Go's Time.Format for the layout's reference-time tokens. */
static void go_format(struct sbuf *b, const struct civil *c, const char *l, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *p = l + i;
        size_t r = n - i;
        int h12 = c->hour % 12 == 0 ? 12 : c->hour % 12;
        if (has_prefix(p, r, "January")) { sb_puts(b, months[c->month - 1]); i += 7; }
        else if (has_prefix(p, r, "Jan")) { sb_add(b, months[c->month - 1], 3); i += 3; }
        else if (has_prefix(p, r, "Monday")) { sb_puts(b, weekdays[c->wday]); i += 6; }
        else if (has_prefix(p, r, "Mon")) { sb_add(b, weekdays[c->wday], 3); i += 3; }
        else if (has_prefix(p, r, "MST")) { sb_puts(b, c->abbr); i += 3; }
        else if (has_prefix(p, r, "2006")) { put_num(b, c->year, 4, '0'); i += 4; }
        else if (has_prefix(p, r, "2")) { put_num(b, c->day, 0, '0'); i += 1; }
        else if (has_prefix(p, r, "_2")) {
            if (r >= 4 && has_prefix(p + 2, r - 2, "006")) { put_num(b, c->yday, 3, ' '); i += 4; }
            else { put_num(b, c->day, 2, ' '); i += 2; }
        }
        else if (has_prefix(p, r, "002")) { put_num(b, c->yday, 3, '0'); i += 3; }
        else if (has_prefix(p, r, "01")) { put_num(b, c->month, 2, '0'); i += 2; }
        else if (has_prefix(p, r, "02")) { put_num(b, c->day, 2, '0'); i += 2; }
        else if (has_prefix(p, r, "03")) { put_num(b, h12, 2, '0'); i += 2; }
        else if (has_prefix(p, r, "04")) { put_num(b, c->min, 2, '0'); i += 2; }
        else if (has_prefix(p, r, "05")) { put_num(b, c->sec, 2, '0'); i += 2; }
        else if (has_prefix(p, r, "06")) { put_num(b, ((c->year % 100) + 100) % 100, 2, '0'); i += 2; }
        else if (has_prefix(p, r, "15")) { put_num(b, c->hour, 2, '0'); i += 2; }
        else if (has_prefix(p, r, "1")) { put_num(b, c->month, 0, '0'); i += 1; }
        else if (has_prefix(p, r, "3")) { put_num(b, h12, 0, '0'); i += 1; }
        else if (has_prefix(p, r, "4")) { put_num(b, c->min, 0, '0'); i += 1; }
        else if (has_prefix(p, r, "5")) { put_num(b, c->sec, 0, '0'); i += 1; }
        else if (has_prefix(p, r, "PM")) { sb_puts(b, c->hour >= 12 ? "PM" : "AM"); i += 2; }
        else if (has_prefix(p, r, "pm")) { sb_puts(b, c->hour >= 12 ? "pm" : "am"); i += 2; }
        else if (has_prefix(p, r, "Z07:00:00")) { put_zone(b, c->offset, true, true, true, false); i += 9; }
        else if (has_prefix(p, r, "-07:00:00")) { put_zone(b, c->offset, false, true, true, false); i += 9; }
        else if (has_prefix(p, r, "Z070000")) { put_zone(b, c->offset, true, false, true, false); i += 7; }
        else if (has_prefix(p, r, "-070000")) { put_zone(b, c->offset, false, false, true, false); i += 7; }
        else if (has_prefix(p, r, "Z07:00")) { put_zone(b, c->offset, true, true, false, false); i += 6; }
        else if (has_prefix(p, r, "-07:00")) { put_zone(b, c->offset, false, true, false, false); i += 6; }
        else if (has_prefix(p, r, "Z0700")) { put_zone(b, c->offset, true, false, false, false); i += 5; }
        else if (has_prefix(p, r, "-0700")) { put_zone(b, c->offset, false, false, false, false); i += 5; }
        else if (has_prefix(p, r, "Z07")) { put_zone(b, c->offset, true, false, false, true); i += 3; }
        else if (has_prefix(p, r, "-07")) { put_zone(b, c->offset, false, false, false, true); i += 3; }
        else if ((p[0] == '.' || p[0] == ',') && r > 1 && (p[1] == '0' || p[1] == '9')) {
            /* fractional seconds: .000 fixed, .999 trimmed; only when the
             * run of digits is not followed by another digit */
            char d = p[1];
            size_t k = 1;
            while (k < r && p[k] == d)
                k++;
            if (k < r && isdigit((unsigned char)p[k])) {
                sb_putc(b, p[0]);
                i += 1;
                continue;
            }
            size_t digits_n = k - 1;
            char frac[10];
            snprintf(frac, sizeof frac, "%09lld", (long long)c->nsec);
            if (digits_n > 9)
                digits_n = 9;
            if (d == '0') {
                sb_putc(b, p[0]);
                sb_add(b, frac, digits_n);
            } else {
                size_t len = digits_n;
                while (len > 0 && frac[len - 1] == '0')
                    len--;
                if (len) {
                    sb_putc(b, p[0]);
                    sb_add(b, frac, len);
                }
            }
            i += k;
        } else {
            sb_putc(b, p[0]);
            i += 1;
        }
    }
}

static const struct { const char *name, *layout; } named_layouts[] = {
    { "ANSIC", "Mon Jan _2 15:04:05 2006" },
    { "UnixDate", "Mon Jan _2 15:04:05 MST 2006" },
    { "RubyDate", "Mon Jan 02 15:04:05 -0700 2006" },
    { "RFC822", "02 Jan 06 15:04 MST" },
    { "RFC822Z", "02 Jan 06 15:04 -0700" },
    { "RFC850", "Monday, 02-Jan-06 15:04:05 MST" },
    { "RFC1123", "Mon, 02 Jan 2006 15:04:05 MST" },
    { "RFC1123Z", "Mon, 02 Jan 2006 15:04:05 -0700" },
    { "RFC3339", "2006-01-02T15:04:05Z07:00" },
    { "RFC3339Nano", "2006-01-02T15:04:05.999999999Z07:00" },
    { "Kitchen", "3:04PM" },
    { "Stamp", "Jan _2 15:04:05" },
    { "StampMilli", "Jan _2 15:04:05.000" },
    { "StampMicro", "Jan _2 15:04:05.000000" },
    { "StampNano", "Jan _2 15:04:05.000000000" },
    { "DateTime", "2006-01-02 15:04:05" },
    { "DateOnly", "2006-01-02" },
    { "TimeOnly", "15:04:05" },
};

BI_FN(bi_time_format)
{
    int64_t ns;
    struct zone z;
    const char *layout = "2006-01-02T15:04:05.999999999Z07:00";
    size_t ll = strlen(layout);
    if (want_time(ev, a[0], &ns, &z, &layout, &ll) < 0)
        return -1;
    for (size_t k = 0; k < sizeof named_layouts / sizeof named_layouts[0]; k++)
        if (strlen(named_layouts[k].name) == ll && !memcmp(named_layouts[k].name, layout, ll)) {
            layout = named_layouts[k].layout;
            ll = strlen(layout);
            break;
        }
    struct civil c;
    to_civil(ns, &z, &c);
    zone_free(&z);
    struct sbuf b = { 0 };
    go_format(&b, &c, layout, ll);
    if (!b.s)
        sb_add(&b, "", 0);
    *out = bi_string_of(&b);
    return 0;
}

/* ------------------------------------------------------------------ time.parse_ns */

static bool take_num(const char *v, size_t vn, size_t *j, size_t min, size_t max, int64_t *out)
{
    size_t st = *j;
    *out = 0;
    while (*j < vn && *j - st < max && isdigit((unsigned char)v[*j]))
        *out = *out * 10 + (v[(*j)++] - '0');
    return *j - st >= min;
}

static bool take_word(const char *v, size_t vn, size_t *j, const char *const *words, size_t nwords,
                      size_t len, int *idx)
{
    for (size_t w = 0; w < nwords; w++) {
        size_t l = len ? len : strlen(words[w]);
        if (*j + l <= vn && strncasecmp(v + *j, words[w], l) == 0) {
            *j += l;
            *idx = (int)w;
            return true;
        }
    }
    return false;
}

static bool take_zone(const char *v, size_t vn, size_t *j, bool z_ok, bool colon, bool seconds, bool hours_only,
                      int64_t *off)
{
    if (z_ok && *j < vn && v[*j] == 'Z') {
        (*j)++;
        *off = 0;
        return true;
    }
    if (*j >= vn || (v[*j] != '+' && v[*j] != '-'))
        return false;
    int sign = v[(*j)++] == '-' ? -1 : 1;
    int64_t h, m = 0, s = 0;
    if (!take_num(v, vn, j, 2, 2, &h))
        return false;
    if (!hours_only) {
        if (colon && (*j >= vn || v[(*j)++] != ':'))
            return false;
        if (!take_num(v, vn, j, 2, 2, &m))
            return false;
        if (seconds) {
            if (colon && (*j >= vn || v[(*j)++] != ':'))
                return false;
            if (!take_num(v, vn, j, 2, 2, &s))
                return false;
        }
    }
    *off = sign * (h * 3600 + m * 60 + s);
    return true;
}

/* Go's time.Parse for the reference-time tokens; the result is UTC. */
static bool go_parse(const char *l, size_t n, const char *v, size_t vn, int64_t *ns)
{
    int64_t year = 1, month = 1, day = 1, hour = 0, min = 0, sec = 0, nsec = 0, off = 0, yday = -1;
    int pm = -1, idx;
    size_t i = 0, j = 0;
    while (i < n) {
        const char *p = l + i;
        size_t r = n - i;
        int64_t x;
        if (has_prefix(p, r, "January")) {
            if (!take_word(v, vn, &j, months, 12, 0, &idx))
                return false;
            month = idx + 1;
            i += 7;
        } else if (has_prefix(p, r, "Jan")) {
            if (!take_word(v, vn, &j, months, 12, 3, &idx))
                return false;
            month = idx + 1;
            i += 3;
        } else if (has_prefix(p, r, "Monday")) {
            if (!take_word(v, vn, &j, weekdays, 7, 0, &idx))
                return false;
            i += 6;
        } else if (has_prefix(p, r, "Mon")) {
            if (!take_word(v, vn, &j, weekdays, 7, 3, &idx))
                return false;
            i += 3;
        } else if (has_prefix(p, r, "MST")) {
            size_t st = j;
            while (j < vn && isupper((unsigned char)v[j]))
                j++;
            if (j - st < 3)
                return false;
            i += 3;
        } else if (has_prefix(p, r, "2006")) {
            if (!take_num(v, vn, &j, 4, 4, &year))
                return false;
            i += 4;
        } else if (has_prefix(p, r, "_2")) {
            if (j < vn && v[j] == ' ')
                j++;
            if (!take_num(v, vn, &j, 1, 2, &day))
                return false;
            i += 2;
        } else if (has_prefix(p, r, "002")) {
            if (!take_num(v, vn, &j, 3, 3, &yday))
                return false;
            i += 3;
        } else if (has_prefix(p, r, "01")) {
            if (!take_num(v, vn, &j, 2, 2, &month))
                return false;
            i += 2;
        } else if (has_prefix(p, r, "02")) {
            if (!take_num(v, vn, &j, 2, 2, &day))
                return false;
            i += 2;
        } else if (has_prefix(p, r, "03")) {
            if (!take_num(v, vn, &j, 2, 2, &hour))
                return false;
            i += 2;
        } else if (has_prefix(p, r, "04")) {
            if (!take_num(v, vn, &j, 2, 2, &min))
                return false;
            i += 2;
        } else if (has_prefix(p, r, "05")) {
            if (!take_num(v, vn, &j, 2, 2, &sec))
                return false;
            i += 2;
        } else if (has_prefix(p, r, "06")) {
            if (!take_num(v, vn, &j, 2, 2, &x))
                return false;
            year = x >= 69 ? 1900 + x : 2000 + x;
            i += 2;
        } else if (has_prefix(p, r, "15")) {
            if (!take_num(v, vn, &j, 1, 2, &hour))
                return false;
            i += 2;
        } else if (has_prefix(p, r, "1")) {
            if (!take_num(v, vn, &j, 1, 2, &month))
                return false;
            i += 1;
        } else if (has_prefix(p, r, "2")) {
            if (!take_num(v, vn, &j, 1, 2, &day))
                return false;
            i += 1;
        } else if (has_prefix(p, r, "3")) {
            if (!take_num(v, vn, &j, 1, 2, &hour))
                return false;
            i += 1;
        } else if (has_prefix(p, r, "4")) {
            if (!take_num(v, vn, &j, 1, 2, &min))
                return false;
            i += 1;
        } else if (has_prefix(p, r, "5")) {
            if (!take_num(v, vn, &j, 1, 2, &sec))
                return false;
            i += 1;
        } else if (has_prefix(p, r, "PM") || has_prefix(p, r, "pm")) {
            if (j + 2 > vn)
                return false;
            if (!strncasecmp(v + j, "PM", 2))
                pm = 1;
            else if (!strncasecmp(v + j, "AM", 2))
                pm = 0;
            else
                return false;
            j += 2;
            i += 2;
        } else if (has_prefix(p, r, "Z07:00:00") || has_prefix(p, r, "-07:00:00")) {
            if (!take_zone(v, vn, &j, p[0] == 'Z', true, true, false, &off))
                return false;
            i += 9;
        } else if (has_prefix(p, r, "Z070000") || has_prefix(p, r, "-070000")) {
            if (!take_zone(v, vn, &j, p[0] == 'Z', false, true, false, &off))
                return false;
            i += 7;
        } else if (has_prefix(p, r, "Z07:00") || has_prefix(p, r, "-07:00")) {
            if (!take_zone(v, vn, &j, p[0] == 'Z', true, false, false, &off))
                return false;
            i += 6;
        } else if (has_prefix(p, r, "Z0700") || has_prefix(p, r, "-0700")) {
            if (!take_zone(v, vn, &j, p[0] == 'Z', false, false, false, &off))
                return false;
            i += 5;
        } else if (has_prefix(p, r, "Z07") || has_prefix(p, r, "-07")) {
            if (!take_zone(v, vn, &j, p[0] == 'Z', false, false, true, &off))
                return false;
            i += 3;
        } else if ((p[0] == '.' || p[0] == ',') && r > 1 && (p[1] == '0' || p[1] == '9')) {
            size_t k = 1;
            while (k < r && p[k] == p[1])
                k++;
            i += k;
            if (j < vn && (v[j] == '.' || v[j] == ',')) {
                j++;
                size_t st = j;
                int64_t f = 0;
                while (j < vn && isdigit((unsigned char)v[j]) && j - st < 9)
                    f = f * 10 + (v[j++] - '0');
                if (j == st || (p[1] == '0' && j - st != k - 1))
                    return false;
                for (size_t d = j - st; d < 9; d++)
                    f *= 10;
                nsec = f;
            } else if (p[1] == '0') {
                return false;
            }
        } else {
            if (j >= vn || v[j] != p[0])
                return false;
            j++;
            i++;
        }
        /* Go: seconds in the value may carry a fraction the layout lacks */
        if (i >= 2 && (has_prefix(l + i - 2, 2, "05") || (i >= 1 && l[i - 1] == '5')) && j < vn && v[j] == '.' &&
            !(i < n && (l[i] == '.' || l[i] == ','))) {
            size_t st = ++j;
            int64_t f = 0;
            while (j < vn && isdigit((unsigned char)v[j]) && j - st < 9)
                f = f * 10 + (v[j++] - '0');
            for (size_t d = j - st; d < 9; d++)
                f *= 10;
            nsec = f;
        }
    }
    if (j != vn)
        return false;
    if (pm == 1 && hour < 12)
        hour += 12;
    else if (pm == 0 && hour == 12)
        hour = 0;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, (int)month) || hour > 23 || min > 59 ||
        sec > 59)
        return false;
    int64_t days = days_from_civil(year, month, day);
    if (yday > 0)
        days = days_from_civil(year, 1, 1) + yday - 1;
    int64_t s = days * 86400 + hour * 3600 + min * 60 + sec - off;
    __int128 t = (__int128)s * NS_PER_SEC + nsec;
    if (s < -9223372038LL || s > 9223372037LL || t < INT64_MIN || t > INT64_MAX)
        return false;
    *ns = (int64_t)t;
    return true;
}

BI_FN(bi_time_parse_ns)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    const char *layout = S(a[0]);
    size_t ll = SL(a[0]);
    for (size_t k = 0; k < sizeof named_layouts / sizeof named_layouts[0]; k++)
        if (strlen(named_layouts[k].name) == ll && !memcmp(named_layouts[k].name, layout, ll)) {
            layout = named_layouts[k].layout;
            ll = strlen(layout);
            break;
        }
    int64_t ns;
    if (!go_parse(layout, ll, S(a[1]), SL(a[1]), &ns))
        return bi_error(ev, "parsing time \"%s\" as \"%.*s\": cannot parse", S(a[1]), (int)ll, layout);
    *out = rv_int(ns);
    return 0;
}
