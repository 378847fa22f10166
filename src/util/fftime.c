/*
 * fftime.c - millisecond timestamps, RFC 3339 text, and payout-calendar boundaries.
 *
 * Calendar arithmetic is done on day numbers (days since 1970-01-01) with Howard
 * Hinnant's civil-date algorithms, so nothing here depends on the C library's notion of
 * local time. Boundaries in an IANA time zone need that zone's UTC offsets; rather than
 * setenv("TZ") + tzset() + mktime() - which races with every other thread's getenv()
 * and localtime() and would need a process-wide lock - this file reads the zone's TZif
 * file (RFC 8536) from the system zoneinfo directory itself: the 64-bit transition
 * table for the past and the POSIX TZ footer rule ("EST5EDT,M3.2.0,M11.1.0") for times
 * after the last transition. A zone is loaded per call (a few KB); nothing is cached,
 * so the functions are thread-safe without locks.
 */
#include "fulfill/fftime.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fulfill/error.h"

#define DAY_S INT64_C(86400)

/* Timestamps fulfill accepts: years 0000 through 9999, which RFC 3339 can write. */
#define FFTIME_MIN_MS INT64_C(-62167219200000) /* 0000-01-01T00:00:00.000Z */
#define FFTIME_MAX_MS INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */

static _Atomic int64_t fftime_fixed_now;

int64_t fftime_now(void)
{
	int64_t fixed = atomic_load_explicit(&fftime_fixed_now, memory_order_relaxed);
	if (fixed)
		return fixed;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fftime_set_now(int64_t ms)
{
	atomic_store_explicit(&fftime_fixed_now, ms, memory_order_relaxed);
}

/* ---- civil calendar ---------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *out_y, int *out_m, int *out_d)
{
	z += 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*out_y = yoe + era * 400 + (m <= 2);
	*out_m = m;
	*out_d = d;
}

/* 0 = Sunday ... 6 = Saturday; 1970-01-01 was a Thursday. */
static int weekday_sun0(int64_t days) { return (int)floor_mod(days + 4, 7); }

/* ---- formatting and parsing -------------------------------------------------------- */

char *fftime_format(int64_t ms, char *out, size_t n)
{
	if (!out || n == 0)
		return out;
	/* beyond about +-36 million years (a rule's literal can be anything) the arithmetic
	 * below would overflow: such a time shows as the nearest one that does not */
	const int64_t limit = INT64_C(1) << 60;
	ms = ms < -limit ? -limit : ms > limit ? limit : ms;
	int64_t days = floor_div(ms, FFTIME_DAY_MS);
	int64_t in_day = ms - days * FFTIME_DAY_MS;
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	if (y >= 0 && y <= 9999 && n >= sizeof("0000-00-00T00:00:00.000Z")) {
		/* the common case by hand: this runs for every timestamp of every answer */
		const int parts[7] = {(int)y, m, d, (int)(in_day / 3600000), (int)(in_day / 60000 % 60),
				      (int)(in_day / 1000 % 60), (int)(in_day % 1000)};
		static const int width[7] = {4, 2, 2, 2, 2, 2, 3};
		static const char after[7] = {'-', '-', 'T', ':', ':', '.', 'Z'};
		char *p = out;
		for (int i = 0; i < 7; i++) {
			for (int k = width[i] - 1, v = parts[i]; k >= 0; k--, v /= 10)
				p[k] = (char)('0' + v % 10);
			p += width[i];
			*p++ = after[i];
		}
		*p = '\0';
		return out;
	}
	/* Outside years 0000-9999 the year simply prints with more digits or a sign. */
	snprintf(out, n, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
		 (int)(in_day / 3600000), (int)(in_day / 60000 % 60), (int)(in_day / 1000 % 60),
		 (int)(in_day % 1000));
	return out;
}

/* Read exactly `digits` decimal digits at *p. -1 when one is not a digit. */
static int read_digits(const char **p, int digits, int *out)
{
	int v = 0;
	for (int i = 0; i < digits; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += digits;
	*out = v;
	return 0;
}

/*
 * RFC 3339 section 5.6 date-time, or a bare full-date. "T"/"Z" may be lower case as
 * the RFC allows. The seconds field must be 00-59: a leap second (":60") has no POSIX
 * time and is rejected rather than silently moved. Fractions of more than millisecond
 * precision are truncated (not rounded, so a time never moves into the next second).
 */
int fftime_parse(const char *s, int64_t *out_ms)
{
	if (!s)
		return -1;
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0, off_min = 0;

	if (read_digits(&p, 4, &y) < 0 || *p++ != '-' || read_digits(&p, 2, &mo) < 0 ||
	    *p++ != '-' || read_digits(&p, 2, &d) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -1;
	if (*p == '\0')
		goto done;

	if (*p != 'T' && *p != 't')
		return -1;
	p++;
	if (read_digits(&p, 2, &h) < 0 || *p++ != ':' || read_digits(&p, 2, &mi) < 0 ||
	    *p++ != ':' || read_digits(&p, 2, &sec) < 0)
		return -1;
	if (h > 23 || mi > 59 || sec > 59)
		return -1;
	if (*p == '.') {
		p++;
		int ndig = 0;
		for (; *p >= '0' && *p <= '9'; p++, ndig++) {
			if (ndig < 3)
				frac_ms = frac_ms * 10 + (*p - '0');
		}
		if (ndig < 1 || ndig > 9)
			return -1;
		for (int i = ndig; i < 3; i++)
			frac_ms *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;
		int oh, om;
		if (read_digits(&p, 2, &oh) < 0 || *p++ != ':' || read_digits(&p, 2, &om) < 0)
			return -1;
		if (oh > 23 || om > 59)
			return -1;
		off_min = sign * (oh * 60 + om);
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;

done:;
	int64_t ms = days_from_civil(y, mo, d) * FFTIME_DAY_MS +
		     ((int64_t)h * 3600 + (int64_t)mi * 60 + sec) * 1000 + frac_ms -
		     (int64_t)off_min * 60000;
	if (ms < FFTIME_MIN_MS || ms > FFTIME_MAX_MS)
		return -1;
	if (out_ms)
		*out_ms = ms;
	return 0;
}

int fftime_year(int64_t ms)
{
	int64_t y;
	int m, d;
	civil_from_days(floor_div(ms, FFTIME_DAY_MS), &y, &m, &d);
	return (int)y;
}

int64_t fftime_year_start(int year) { return days_from_civil(year, 1, 1) * FFTIME_DAY_MS; }

/* ---- time zones: TZif files and POSIX TZ rules ------------------------------------- */

/* A transition date of a POSIX TZ rule: "Jn", "n" or "Mm.w.d", then "/time". */
struct tz_rule_date {
	char kind; /* 'J' (1-365, Feb 29 never counted), 'D' (0-365), 'M' */
	int n;
	int month, week, wday;
	int32_t secs; /* local time of day of the change; may be negative or past 24h */
};

/* The TZif footer: offsets are seconds east of UTC (the TZif sign, not POSIX's). */
struct tz_posix {
	int32_t std_off;
	int32_t dst_off;
	bool has_dst;
	struct tz_rule_date start, end;
};

struct tz_zone {
	size_t timecnt;
	int64_t *trans;	    /* UTC seconds, ascending */
	unsigned char *idx; /* local time type after each transition */
	size_t typecnt;
	int32_t *utoff; /* UT offset of each local time type */
	bool has_footer;
	struct tz_posix footer;
};

/* TZif files are a few KB; anything bigger than this is not one. */
#define TZ_FILE_MAX ((size_t)256 * 1024)

static void tz_zone_free(struct tz_zone *z)
{
	if (!z)
		return;
	free(z->trans);
	free(z->idx);
	free(z->utoff);
	free(z);
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* [+-]hh[:mm[:ss]] with hours up to `max_h`; seconds into *out. */
static int tz_posix_time(const char **p, int max_h, int32_t *out)
{
	int sign = 1;
	if (**p == '+' || **p == '-')
		sign = *(*p)++ == '-' ? -1 : 1;
	if (**p < '0' || **p > '9')
		return -1;
	int32_t h = 0, m = 0, s = 0;
	while (**p >= '0' && **p <= '9') {
		h = h * 10 + (*(*p)++ - '0');
		if (h > max_h)
			return -1;
	}
	if (**p == ':') {
		(*p)++;
		int v;
		if (read_digits(p, 2, &v) < 0 || v > 59)
			return -1;
		m = v;
		if (**p == ':') {
			(*p)++;
			if (read_digits(p, 2, &v) < 0 || v > 59)
				return -1;
			s = v;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return 0;
}

/* A zone abbreviation: 3+ letters, or <...> of letters, digits, + and -. */
static int tz_posix_name(const char **p)
{
	const char *q = *p;
	if (*q == '<') {
		q++;
		while (*q && *q != '>')
			q++;
		if (*q != '>' || q - *p < 4)
			return -1;
		*p = q + 1;
		return 0;
	}
	while ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))
		q++;
	if (q - *p < 3)
		return -1;
	*p = q;
	return 0;
}

static int tz_posix_int(const char **p, int lo, int hi, int *out)
{
	if (**p < '0' || **p > '9')
		return -1;
	int v = 0;
	while (**p >= '0' && **p <= '9') {
		v = v * 10 + (*(*p)++ - '0');
		if (v > hi)
			return -1;
	}
	if (v < lo)
		return -1;
	*out = v;
	return 0;
}

static int tz_posix_rule_date(const char **p, struct tz_rule_date *r)
{
	memset(r, 0, sizeof(*r));
	if (**p == 'J') {
		(*p)++;
		r->kind = 'J';
		if (tz_posix_int(p, 1, 365, &r->n) < 0)
			return -1;
	} else if (**p == 'M') {
		(*p)++;
		r->kind = 'M';
		if (tz_posix_int(p, 1, 12, &r->month) < 0 || *(*p)++ != '.' ||
		    tz_posix_int(p, 1, 5, &r->week) < 0 || *(*p)++ != '.' ||
		    tz_posix_int(p, 0, 6, &r->wday) < 0)
			return -1;
	} else {
		r->kind = 'D';
		if (tz_posix_int(p, 0, 365, &r->n) < 0)
			return -1;
	}
	r->secs = 2 * 3600;
	if (**p == '/') {
		(*p)++;
		/* RFC 8536 3.3.1 extends the hour range to -167..167. */
		if (tz_posix_time(p, 167, &r->secs) < 0)
			return -1;
	}
	return 0;
}

/* Parse a POSIX TZ string (as found in a TZif footer). */
static int tz_posix_parse(const char *s, struct tz_posix *out)
{
	const char *p = s;
	int32_t t;

	memset(out, 0, sizeof(*out));
	if (tz_posix_name(&p) < 0 || tz_posix_time(&p, 24, &t) < 0)
		return -1;
	out->std_off = -t;
	if (*p == '\0')
		return 0;

	if (tz_posix_name(&p) < 0)
		return -1;
	out->has_dst = true;
	out->dst_off = out->std_off + 3600;
	if (*p != ',' && *p != '\0') {
		if (tz_posix_time(&p, 24, &t) < 0)
			return -1;
		out->dst_off = -t;
	}
	if (*p == '\0') {
		/* No rule: POSIX leaves it to the implementation; glibc uses the US rule. */
		const char *us = "M3.2.0,M11.1.0";
		tz_posix_rule_date(&us, &out->start);
		us++;
		tz_posix_rule_date(&us, &out->end);
		return 0;
	}
	if (*p++ != ',' || tz_posix_rule_date(&p, &out->start) < 0 || *p++ != ',' ||
	    tz_posix_rule_date(&p, &out->end) < 0 || *p != '\0')
		return -1;
	return 0;
}

/* UTC second at which rule date `r` happens in `year`, the clock then reading `off`. */
static int64_t tz_rule_utc(const struct tz_rule_date *r, int64_t year, int32_t off)
{
	int64_t day;
	int64_t jan1 = days_from_civil(year, 1, 1);

	switch (r->kind) {
	case 'J':
		day = jan1 + r->n - 1 + (is_leap(year) && r->n >= 60);
		break;
	case 'D':
		day = jan1 + r->n;
		break;
	default: {
		int64_t first = days_from_civil(year, r->month, 1);
		int64_t d = first + floor_mod(r->wday - weekday_sun0(first), 7) +
			    INT64_C(7) * (r->week - 1);
		while (d - first >= days_in_month(year, r->month))
			d -= 7;
		day = d;
	}
	}
	return day * DAY_S + r->secs - off;
}

static int32_t tz_posix_offset(const struct tz_posix *tz, int64_t t)
{
	if (!tz->has_dst)
		return tz->std_off;
	int64_t y;
	int m, d;
	civil_from_days(floor_div(t + tz->std_off, DAY_S), &y, &m, &d);
	int64_t start = tz_rule_utc(&tz->start, y, tz->std_off);
	int64_t end = tz_rule_utc(&tz->end, y, tz->dst_off);
	bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
	return dst ? tz->dst_off : tz->std_off;
}

/* UT offset (seconds east) in effect at UTC second `t`; UTC when `z` is NULL. */
static int32_t tz_offset(const struct tz_zone *z, int64_t t)
{
	if (!z)
		return 0;
	if (z->timecnt == 0)
		return z->has_footer ? tz_posix_offset(&z->footer, t) : z->utoff[0];
	if (t < z->trans[0])
		return z->utoff[0];	/* RFC 8536: type 0 before the first transition */
	size_t lo = 0, hi = z->timecnt; /* find the last transition <= t */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	if (lo == z->timecnt - 1 && t > z->trans[lo] && z->has_footer)
		return tz_posix_offset(&z->footer, t);
	return z->utoff[z->idx[lo]];
}

/* Parse a TZif image. NULL when it is not a well-formed one. */
static struct tz_zone *tz_parse(const unsigned char *buf, size_t len)
{
	struct tz_zone *z = NULL;
	const unsigned char *p = buf, *end = buf + len;

	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return NULL;
	int version = p[4];
	int tsize = 4;
	if (version >= '2') {
		/* Skip the version 1 block and use the 64-bit one that follows. */
		size_t v1 = (size_t)be32(p + 32) * 5 + (size_t)be32(p + 36) * 6 + be32(p + 40) +
			    (size_t)be32(p + 28) * 8 + be32(p + 24) + be32(p + 20);
		if (v1 > len - 44 || len - 44 - v1 < 44)
			return NULL;
		p += 44 + v1;
		if (memcmp(p, "TZif", 4) != 0)
			return NULL;
		tsize = 8;
	}
	uint32_t isutcnt = be32(p + 20), isstdcnt = be32(p + 24), leapcnt = be32(p + 28);
	uint32_t timecnt = be32(p + 32), typecnt = be32(p + 36), charcnt = be32(p + 40);
	p += 44;
	if (typecnt == 0 || typecnt > 256 || timecnt > len || leapcnt > len || charcnt > len ||
	    isutcnt > len || isstdcnt > len)
		return NULL;
	size_t body = (size_t)timecnt * (tsize + 1) + (size_t)typecnt * 6 + charcnt +
		      (size_t)leapcnt * (tsize + 4) + isstdcnt + isutcnt;
	if (body > (size_t)(end - p))
		return NULL;

	z = ff_calloc(1, sizeof(*z));
	z->timecnt = timecnt;
	z->typecnt = typecnt;
	z->trans = ff_calloc(timecnt ? timecnt : 1, sizeof(*z->trans));
	z->idx = ff_calloc(timecnt ? timecnt : 1, 1);
	z->utoff = ff_calloc(typecnt, sizeof(*z->utoff));
	for (size_t i = 0; i < timecnt; i++, p += tsize) {
		z->trans[i] = tsize == 8 ? be64(p) : (int32_t)be32(p);
		if (i > 0 && z->trans[i] <= z->trans[i - 1])
			goto bad;
	}
	for (size_t i = 0; i < timecnt; i++, p++) {
		if (*p >= typecnt)
			goto bad;
		z->idx[i] = *p;
	}
	for (size_t i = 0; i < typecnt; i++, p += 6) {
		int32_t off = (int32_t)be32(p);
		if (off < -25 * 3600 || off > 26 * 3600)
			goto bad;
		z->utoff[i] = off;
	}
	p += charcnt + (size_t)leapcnt * (tsize + 4) + isstdcnt + isutcnt;

	/* Footer: "\n<POSIX TZ string>\n"; an empty string means "no rule". */
	if (tsize == 8 && p < end && *p == '\n') {
		const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
		if (!nl || nl - p - 1 > 255)
			goto bad;
		if (nl > p + 1) {
			char rule[256];
			memcpy(rule, p + 1, (size_t)(nl - p - 1));
			rule[nl - p - 1] = '\0';
			if (tz_posix_parse(rule, &z->footer) < 0)
				goto bad;
			z->has_footer = true;
		}
	}
	return z;
bad:
	tz_zone_free(z);
	return NULL;
}

/* Names are relative paths inside the zoneinfo tree made of the characters IANA uses. */
static bool tz_name_ok(const char *tz)
{
	size_t len = strlen(tz);
	if (len == 0 || len > 200 || tz[0] == '/' || tz[len - 1] == '/' || strstr(tz, "..") ||
	    strstr(tz, "//"))
		return false;
	/* right/ zones count leap seconds, which fulfill's POSIX clock does not. */
	if (strncmp(tz, "right/", 6) == 0)
		return false;
	for (const char *c = tz; *c; c++) {
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '/' || *c == '_' || *c == '-' || *c == '+'))
			return false;
	}
	return true;
}

static bool tz_is_utc(const char *tz) { return !tz || strcmp(tz, "UTC") == 0; }

/* Load zone `tz` from $TZDIR (when absolute) or /usr/share/zoneinfo. NULL if unknown. */
static struct tz_zone *tz_load(const char *tz)
{
	if (!tz_name_ok(tz))
		return NULL;
	const char *dir = getenv("TZDIR");
	if (!dir || dir[0] != '/')
		dir = "/usr/share/zoneinfo";
	char path[512];
	int pl = snprintf(path, sizeof(path), "%s/%s", dir, tz);
	if (pl < 0 || (size_t)pl >= sizeof(path))
		return NULL;

	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	unsigned char *buf = ff_malloc(TZ_FILE_MAX);
	size_t len = fread(buf, 1, TZ_FILE_MAX, f);
	bool err = ferror(f) || !feof(f);
	fclose(f);
	struct tz_zone *z = err ? NULL : tz_parse(buf, len);
	free(buf);
	return z;
}

int fftime_tz_valid(const char *tz)
{
	if (!tz)
		return 0;
	if (tz_is_utc(tz))
		return 1;
	struct tz_zone *z = tz_load(tz);
	tz_zone_free(z);
	return z != NULL;
}

/*
 * First UTC second at which the local date in `z` reaches day number `day`. Local time
 * t + offset(t) is increasing except where clocks go back, so a binary search for where
 * it crosses local midnight finds the instant even when midnight itself is skipped (a
 * change at 00:00 makes the day begin at 01:00) or repeated (the first 00:00 counts).
 * UT offsets are within +-26 h, so the crossing lies within the search window.
 */
static int64_t tz_day_start(const struct tz_zone *z, int64_t day)
{
	int64_t target = day * DAY_S;
	int64_t lo = target - INT64_C(30) * 3600; /* local(lo) < target */
	int64_t hi = target + INT64_C(30) * 3600; /* local(hi) >= target */
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (mid + tz_offset(z, mid) >= target)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

int64_t fftime_next_boundary(int64_t ms, enum fftime_schedule schedule, const char *tz)
{
	struct tz_zone *z = NULL;
	int64_t result = -1;

	/* An immediate release needs no calendar, so the zone is not even looked at. */
	if (schedule == SCHEDULE_IMMEDIATE)
		return ms;
	if (ms < FFTIME_MIN_MS || ms > FFTIME_MAX_MS)
		return -1;
	if (!tz_is_utc(tz)) {
		z = tz_load(tz);
		if (!z)
			return -1;
	}

	int64_t sec = floor_div(ms, 1000);
	int64_t today = floor_div(sec + tz_offset(z, sec), DAY_S);
	int64_t y;
	int m, d;
	civil_from_days(today, &y, &m, &d);

	/* Today's boundary counts only when `ms` is exactly on it. */
	bool today_is_boundary;
	int64_t next;
	switch (schedule) {
	case SCHEDULE_DAILY:
		today_is_boundary = true;
		next = today + 1;
		break;
	case SCHEDULE_WEEKLY: {
		int wd_mon0 = (weekday_sun0(today) + 6) % 7;
		today_is_boundary = wd_mon0 == 0;
		next = today + 7 - wd_mon0;
		break;
	}
	case SCHEDULE_MONTHLY:
		today_is_boundary = d == 1;
		next = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
		break;
	default:
		goto out;
	}
	if (today_is_boundary) {
		int64_t start_ms = tz_day_start(z, today) * 1000;
		if (start_ms >= ms) {
			result = start_ms;
			goto out;
		}
	}
	result = tz_day_start(z, next) * 1000;
out:
	tz_zone_free(z);
	return result;
}
