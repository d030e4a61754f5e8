/* HTTP dates (RFC 9110 section 5.6.7) with our own calendar arithmetic:
 * timegm() is not standard C and gmtime() is not thread-safe. */
#include <string.h>

#include "multimap.h"

static const char weekdays[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
static const char *const long_weekdays[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                             "Friday", "Saturday", "Sunday"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date, counted in 400-year
 * eras starting on March 1st so the leap day falls at the end of a year. */
static int64_t days_from_civil(int64_t y, int m, int d)
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

int tn_http_date_format(int64_t t, char buf[TN_HTTP_DATE_LEN])
{
    /* 253402300799 is 9999-12-31T23:59:59Z. */
    if (t < 0 || t > 253402300799LL)
        return TN_EINVAL;
    int64_t days = t / 86400, secs = t % 86400, y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    const char *wd = weekdays[days % 7];
    const char *mo = months[m - 1];
    int hh = (int)(secs / 3600), mm = (int)(secs / 60 % 60), ss = (int)(secs % 60);
    char *p = buf;
    memcpy(p, wd, 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    *p++ = (char)('0' + d / 10);
    *p++ = (char)('0' + d % 10);
    *p++ = ' ';
    memcpy(p, mo, 3);
    p += 3;
    *p++ = ' ';
    *p++ = (char)('0' + y / 1000);
    *p++ = (char)('0' + y / 100 % 10);
    *p++ = (char)('0' + y / 10 % 10);
    *p++ = (char)('0' + y % 10);
    *p++ = ' ';
    *p++ = (char)('0' + hh / 10);
    *p++ = (char)('0' + hh % 10);
    *p++ = ':';
    *p++ = (char)('0' + mm / 10);
    *p++ = (char)('0' + mm % 10);
    *p++ = ':';
    *p++ = (char)('0' + ss / 10);
    *p++ = (char)('0' + ss % 10);
    memcpy(p, " GMT", 5);
    return 0;
}

/* A tiny cursor parser: every helper fails (returns 0) without moving on
 * a mismatch, so the three formats can be tried in turn. */
typedef struct {
    const char *p, *end;
} cursor_t;

static int lit(cursor_t *c, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

static int digits(cursor_t *c, int min, int max, int *out)
{
    int n = 0, v = 0;
    while (c->p + n < c->end && n < max && c->p[n] >= '0' && c->p[n] <= '9')
        v = v * 10 + (c->p[n++] - '0');
    if (n < min)
        return 0;
    c->p += n;
    *out = v;
    return 1;
}

static int month(cursor_t *c, int *out)
{
    for (int i = 0; i < 12; i++)
        if (lit(c, months[i])) {
            *out = i + 1;
            return 1;
        }
    return 0;
}

static int short_weekday(cursor_t *c)
{
    for (int i = 0; i < 7; i++)
        if (lit(c, weekdays[i]))
            return 1;
    return 0;
}

static int long_weekday(cursor_t *c)
{
    for (int i = 0; i < 7; i++)
        if (lit(c, long_weekdays[i]))
            return 1;
    return 0;
}

static int clock_time(cursor_t *c, int *h, int *m, int *s)
{
    return digits(c, 2, 2, h) && lit(c, ":") && digits(c, 2, 2, m) && lit(c, ":") &&
           digits(c, 2, 2, s);
}

int tn_http_date_parse(const char *s, size_t len, int64_t *out)
{
    int year = 0, mon = 0, day = 0, h = 0, mi = 0, sec = 0, ok;
    cursor_t c = {s, s + len};

    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    ok = short_weekday(&c) && lit(&c, ", ") && digits(&c, 2, 2, &day) && lit(&c, " ") &&
         month(&c, &mon) && lit(&c, " ") && digits(&c, 4, 4, &year) && lit(&c, " ") &&
         clock_time(&c, &h, &mi, &sec) && lit(&c, " GMT");
    if (!ok) {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        c.p = s;
        ok = long_weekday(&c) && lit(&c, ", ") && digits(&c, 2, 2, &day) && lit(&c, "-") &&
             month(&c, &mon) && lit(&c, "-") && digits(&c, 2, 2, &year) && lit(&c, " ") &&
             clock_time(&c, &h, &mi, &sec) && lit(&c, " GMT");
        if (ok)
            year += year >= 70 ? 1900 : 2000;
    }
    if (!ok) {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        c.p = s;
        ok = short_weekday(&c) && lit(&c, " ") && month(&c, &mon) && lit(&c, " ");
        if (ok && c.p < c.end && *c.p == ' ') {
            c.p++;
            ok = digits(&c, 1, 1, &day);
        } else if (ok) {
            ok = digits(&c, 2, 2, &day);
        }
        ok = ok && lit(&c, " ") && clock_time(&c, &h, &mi, &sec) && lit(&c, " ") &&
             digits(&c, 4, 4, &year);
    }
    if (!ok || c.p != c.end)
        return TN_EINVAL;
    /* A leap second (":60") is allowed by the grammar; it folds into the
     * next minute. */
    if (day < 1 || day > days_in_month(year, mon) || h > 23 || mi > 59 || sec > 60 || year < 1970)
        return TN_EINVAL;
    *out = days_from_civil(year, mon, day) * 86400 + h * 3600 + mi * 60 + sec;
    return 0;
}
