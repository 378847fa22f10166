/*
 * fftime_test.c - unit tests for src/util/fftime.c: RFC 3339 parsing and formatting,
 * the overridable clock, year helpers, and payout-calendar boundaries in UTC and in
 * IANA zones (checked against hand-worked instants and against the C library).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fulfill/fftime.h"
#include "testutil.h"

static int64_t T(const char *s)
{
	int64_t ms = 0;
	cr_assert_eq(fftime_parse(s, &ms), 0, "parse %s", s);
	return ms;
}

static void expect_time(int64_t got, const char *want)
{
	char buf[40];
	fftime_format(got, buf, sizeof(buf));
	cr_expect_str_eq(buf, want);
}

Test(fftime, format_epoch_and_neighbours)
{
	char buf[32];
	cr_expect_str_eq(fftime_format(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
	cr_expect_str_eq(fftime_format(-1, buf, sizeof(buf)), "1969-12-31T23:59:59.999Z");
	cr_expect_str_eq(fftime_format(1614265330000, buf, sizeof(buf)),
			 "2021-02-25T15:02:10.000Z");
	cr_expect_str_eq(fftime_format(951782400123, buf, sizeof(buf)), "2000-02-29T00:00:00.123Z");
	cr_expect_str_eq(fftime_format(253402300799999, buf, sizeof(buf)),
			 "9999-12-31T23:59:59.999Z");
	cr_expect_str_eq(fftime_format(-62167219200000, buf, sizeof(buf)),
			 "0000-01-01T00:00:00.000Z");
}

/* The extremes of int64 (a program rule's literal can be any integer) format without
 * overflowing (the UBSan build runs this): as the nearest time that fits, 2^60 ms. */
Test(fftime, format_int64_extremes)
{
	char lo[64], hi[64], edge[64];
	fftime_format(INT64_MIN, lo, sizeof(lo));
	fftime_format(INT64_MAX, hi, sizeof(hi));
	cr_expect_str_eq(lo, fftime_format(-(INT64_C(1) << 60), edge, sizeof(edge)));
	cr_expect_str_eq(hi, fftime_format(INT64_C(1) << 60, edge, sizeof(edge)));
	cr_expect(lo[0] == '-' && strstr(lo, "T") && hi[0] != '-', "%s %s", lo, hi);
}

Test(fftime, format_exactly_fills_25_bytes)
{
	char buf[25];
	memset(buf, 'x', sizeof(buf));
	fftime_format(1614265330001, buf, sizeof(buf));
	cr_expect_str_eq(buf, "2021-02-25T15:02:10.001Z");
	char small[5];
	fftime_format(0, small, sizeof(small));
	cr_expect_str_eq(small, "1970");
}

Test(fftime, parse_utc_and_fractions)
{
	cr_expect_eq(T("1970-01-01T00:00:00Z"), 0);
	cr_expect_eq(T("2021-02-25T15:02:10Z"), 1614265330000);
	cr_expect_eq(T("2021-02-25T15:02:10.5Z"), 1614265330500);
	cr_expect_eq(T("2021-02-25T15:02:10.05Z"), 1614265330050);
	cr_expect_eq(T("2021-02-25T15:02:10.123Z"), 1614265330123);
	cr_expect_eq(T("2021-02-25T15:02:10.1239Z"), 1614265330123);	  /* truncated */
	cr_expect_eq(T("2021-02-25T15:02:10.999999999Z"), 1614265330999); /* 9 digits */
	cr_expect_eq(T("2021-02-25t15:02:10z"), 1614265330000);
	cr_expect_eq(T("1969-12-31T23:59:59.999Z"), -1);
}

Test(fftime, parse_bare_date_is_midnight_utc)
{
	cr_expect_eq(T("2026-10-01"), T("2026-10-01T00:00:00Z"));
	cr_expect_eq(T("1970-01-01"), 0);
}

Test(fftime, parse_offsets)
{
	cr_expect_eq(T("2026-10-01T09:00:00+02:00"), T("2026-10-01T07:00:00Z"));
	cr_expect_eq(T("2026-10-01T09:00:00-05:30"), T("2026-10-01T14:30:00Z"));
	cr_expect_eq(T("2026-10-01T09:00:00+00:00"), T("2026-10-01T09:00:00Z"));
	cr_expect_eq(T("2026-10-01T09:00:00-00:00"), T("2026-10-01T09:00:00Z"));
	cr_expect_eq(T("2026-10-01T09:00:00.250+01:00"), T("2026-10-01T08:00:00.250Z"));
	/* Offsets that move the instant across midnight, a month and a year. */
	expect_time(T("2026-01-01T01:00:00+02:00"), "2025-12-31T23:00:00.000Z");
	expect_time(T("2025-12-31T22:30:00-02:00"), "2026-01-01T00:30:00.000Z");
	expect_time(T("2024-03-01T00:15:00+01:00"), "2024-02-29T23:15:00.000Z");
	expect_time(T("2024-02-29T23:59:59.999-23:59"), "2024-03-01T23:58:59.999Z");
}

Test(fftime, parse_calendar_validity)
{
	int64_t ms;
	cr_expect_eq(fftime_parse("2024-02-29T12:00:00Z", &ms), 0); /* leap year */
	cr_expect_eq(fftime_parse("2000-02-29", &ms), 0);	    /* 400-year rule */
	cr_expect_eq(fftime_parse("2023-02-29T12:00:00Z", &ms), -1);
	cr_expect_eq(fftime_parse("1900-02-29", &ms), -1); /* 100-year rule */
	cr_expect_eq(fftime_parse("2026-02-30", &ms), -1);
	cr_expect_eq(fftime_parse("2026-04-31", &ms), -1);
	cr_expect_eq(fftime_parse("2026-12-31", &ms), 0);
	cr_expect_eq(fftime_parse("2026-13-01", &ms), -1);
	cr_expect_eq(fftime_parse("2026-00-10", &ms), -1);
	cr_expect_eq(fftime_parse("2026-01-00", &ms), -1);
	cr_expect_eq(fftime_parse("2026-01-32", &ms), -1);
}

Test(fftime, parse_rejects_malformed)
{
	const char *bad[] = {
	    "",
	    "2026",
	    "2026-1-01",
	    "26-01-01",
	    "2026-01-01T",
	    "2026-01-01T10:00Z",    /* seconds are required */
	    "2026-01-01T10:00:00",  /* so is the zone */
	    "2026-01-01 10:00:00Z", /* space instead of T */
	    "2026-01-01T24:00:00Z",
	    "2026-01-01T23:60:00Z",
	    "2026-01-01T23:59:60Z", /* leap second */
	    "2026-01-01T10:00:00.Z",
	    "2026-01-01T10:00:00.1234567890Z", /* 10 fraction digits */
	    "2026-01-01T10:00:00+0200",
	    "2026-01-01T10:00:00+02",
	    "2026-01-01T10:00:00+24:00",
	    "2026-01-01T10:00:00+02:60",
	    "2026-01-01T10:00:00ZZ",
	    "2026-01-01T10:00:00Z ",
	    " 2026-01-01T10:00:00Z",
	    "2026-01-01x",
	    "2026/01/01",
	    "+2026-01-01",
	    "2026-01-01T1a:00:00Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 42;
		cr_expect_eq(fftime_parse(bad[i], &ms), -1, "'%s'", bad[i]);
		cr_expect_eq(ms, 42);
	}
	cr_expect_eq(fftime_parse(NULL, NULL), -1);
}

Test(fftime, parse_range_limits)
{
	int64_t ms;
	cr_expect_eq(fftime_parse("0000-01-01T00:00:00Z", &ms), 0);
	cr_expect_eq(ms, -62167219200000);
	cr_expect_eq(fftime_parse("9999-12-31T23:59:59.999Z", &ms), 0);
	cr_expect_eq(fftime_parse("0000-01-01T00:00:00+00:01", &ms), -1);
	cr_expect_eq(fftime_parse("9999-12-31T23:59:59-00:01", &ms), -1);
}

Test(fftime, format_parse_round_trip)
{
	const int64_t samples[] = {0,
				   -1,
				   1,
				   86399999,
				   86400000,
				   951782400123,
				   1614265330000,
				   4102444800000,
				   -2208988800000,
				   253402300799999};
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		char buf[32];
		int64_t back;
		fftime_format(samples[i], buf, sizeof(buf));
		cr_expect_eq(fftime_parse(buf, &back), 0, "%s", buf);
		cr_expect_eq(back, samples[i], "%s", buf);
	}
	/* Every day over four centuries survives the calendar arithmetic both ways. */
	for (int64_t day = -146097 * 2; day < 146097 * 2; day += 13) {
		char buf[32];
		int64_t back;
		int64_t ms = day * FFTIME_DAY_MS + 45296789;
		fftime_format(ms, buf, sizeof(buf));
		cr_assert_eq(fftime_parse(buf, &back), 0, "%s", buf);
		cr_assert_eq(back, ms, "%s", buf);
	}
}

/* The hand-written common case agrees with libc's gmtime over years 0000-9999. */
Test(fftime, format_matches_gmtime)
{
	for (int64_t ms = -62167219200000; ms < 253402300800000; ms += 7919LL * 3600 * 1000 + 12345) {
		time_t t = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
		struct tm tm;
		cr_assert_not_null(gmtime_r(&t, &tm));
		char want[96], got[40];
		int64_t frac = ms - (int64_t)t * 1000;
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
		cr_assert_str_eq(fftime_format(ms, got, sizeof(got)), want);
	}
	/* outside 0000-9999 the general path still writes the year */
	char buf[40];
	cr_expect_str_eq(fftime_format(253402300800000, buf, sizeof(buf)), "10000-01-01T00:00:00.000Z");
}

Test(fftime, clock_override)
{
	fftime_set_now(1614265330000);
	cr_expect_eq(fftime_now(), 1614265330000);
	fftime_set_now(-5);
	cr_expect_eq(fftime_now(), -5);
	fftime_set_now(0);
	int64_t real = (int64_t)time(NULL) * 1000;
	int64_t now = fftime_now();
	cr_expect(now >= real - 2000 && now <= real + 2000, "real clock restored");
}

Test(fftime, year_helpers)
{
	cr_expect_eq(fftime_year(0), 1970);
	cr_expect_eq(fftime_year(-1), 1969);
	cr_expect_eq(fftime_year(T("2024-12-31T23:59:59.999Z")), 2024);
	cr_expect_eq(fftime_year(T("2025-01-01T00:00:00Z")), 2025);
	cr_expect_eq(fftime_year_start(1970), 0);
	cr_expect_eq(fftime_year_start(2024), T("2024-01-01"));
	cr_expect_eq(fftime_year_start(2025) - fftime_year_start(2024), 366 * FFTIME_DAY_MS);
	cr_expect_eq(fftime_year_start(1969), T("1969-01-01"));
	cr_expect_eq(fftime_year_start(2000), T("2000-01-01"));
}

static void expect_boundary(const char *at, enum fftime_schedule s, const char *tz,
			    const char *want)
{
	int64_t got = fftime_next_boundary(T(at), s, tz);
	char buf[40];
	fftime_format(got, buf, sizeof(buf));
	cr_expect_str_eq(buf, want, "%s sched %d tz %s", at, (int)s, tz ? tz : "(null)");
}

Test(fftime, boundary_immediate_is_identity)
{
	int64_t ms = T("2026-03-10T12:34:56.789Z");
	cr_expect_eq(fftime_next_boundary(ms, SCHEDULE_IMMEDIATE, NULL), ms);
	cr_expect_eq(fftime_next_boundary(ms, SCHEDULE_IMMEDIATE, "Europe/Berlin"), ms);
}

Test(fftime, boundary_daily_utc)
{
	expect_boundary("2026-03-10T12:00:00Z", SCHEDULE_DAILY, NULL, "2026-03-11T00:00:00.000Z");
	expect_boundary("2026-03-10T00:00:00Z", SCHEDULE_DAILY, NULL, "2026-03-10T00:00:00.000Z");
	expect_boundary("2026-03-10T00:00:00.001Z", SCHEDULE_DAILY, "UTC",
			"2026-03-11T00:00:00.000Z");
	expect_boundary("2026-03-10T23:59:59.999Z", SCHEDULE_DAILY, NULL,
			"2026-03-11T00:00:00.000Z");
	expect_boundary("2026-12-31T08:00:00Z", SCHEDULE_DAILY, NULL, "2027-01-01T00:00:00.000Z");
	expect_boundary("2024-02-28T08:00:00Z", SCHEDULE_DAILY, NULL, "2024-02-29T00:00:00.000Z");
	expect_boundary("1969-12-31T12:00:00Z", SCHEDULE_DAILY, NULL, "1970-01-01T00:00:00.000Z");
}

Test(fftime, boundary_weekly_utc)
{
	/* 2026-03-15 is a Sunday, 2026-03-16 a Monday. */
	expect_boundary("2026-03-15T23:59:00Z", SCHEDULE_WEEKLY, NULL, "2026-03-16T00:00:00.000Z");
	expect_boundary("2026-03-16T00:00:00Z", SCHEDULE_WEEKLY, NULL, "2026-03-16T00:00:00.000Z");
	expect_boundary("2026-03-16T00:00:00.001Z", SCHEDULE_WEEKLY, NULL,
			"2026-03-23T00:00:00.000Z");
	expect_boundary("2026-03-18T10:00:00Z", SCHEDULE_WEEKLY, NULL, "2026-03-23T00:00:00.000Z");
	expect_boundary("2026-12-30T10:00:00Z", SCHEDULE_WEEKLY, NULL, "2027-01-04T00:00:00.000Z");
	expect_boundary("1970-01-01T00:00:00Z", SCHEDULE_WEEKLY, NULL, "1970-01-05T00:00:00.000Z");
}

Test(fftime, boundary_monthly_utc)
{
	expect_boundary("2026-12-15T10:00:00Z", SCHEDULE_MONTHLY, NULL, "2027-01-01T00:00:00.000Z");
	expect_boundary("2026-12-01T00:00:00Z", SCHEDULE_MONTHLY, NULL, "2026-12-01T00:00:00.000Z");
	expect_boundary("2026-12-01T00:00:01Z", SCHEDULE_MONTHLY, NULL, "2027-01-01T00:00:00.000Z");
	expect_boundary("2026-01-31T23:59:59Z", SCHEDULE_MONTHLY, NULL, "2026-02-01T00:00:00.000Z");
	expect_boundary("2024-02-29T12:00:00Z", SCHEDULE_MONTHLY, NULL, "2024-03-01T00:00:00.000Z");
}

Test(fftime, boundary_new_york)
{
	const char *ny = "America/New_York";
	/* Winter: local midnight is 05:00Z; summer (EDT): 04:00Z. */
	expect_boundary("2026-01-15T12:00:00Z", SCHEDULE_DAILY, ny, "2026-01-16T05:00:00.000Z");
	expect_boundary("2026-07-15T12:00:00Z", SCHEDULE_DAILY, ny, "2026-07-16T04:00:00.000Z");
	/* 03:00Z on the 16th is still the 15th in New York. */
	expect_boundary("2026-01-16T03:00:00Z", SCHEDULE_DAILY, ny, "2026-01-16T05:00:00.000Z");
	expect_boundary("2026-01-16T05:00:00Z", SCHEDULE_DAILY, ny, "2026-01-16T05:00:00.000Z");
	/* The day DST starts (2026-03-08) is 23 hours long, the day it ends 25. */
	expect_boundary("2026-03-08T12:00:00Z", SCHEDULE_DAILY, ny, "2026-03-09T04:00:00.000Z");
	expect_boundary("2026-03-07T12:00:00Z", SCHEDULE_DAILY, ny, "2026-03-08T05:00:00.000Z");
	expect_boundary("2026-11-01T12:00:00Z", SCHEDULE_DAILY, ny, "2026-11-02T05:00:00.000Z");
	/* Weekly: Sunday evening local (Monday 01:00Z) -> Monday 00:00 local. */
	expect_boundary("2026-03-16T01:00:00Z", SCHEDULE_WEEKLY, ny, "2026-03-16T04:00:00.000Z");
	/* Monthly across the year end, from both sides of UTC midnight. */
	expect_boundary("2026-12-31T23:00:00Z", SCHEDULE_MONTHLY, ny, "2027-01-01T05:00:00.000Z");
	expect_boundary("2027-01-01T02:00:00Z", SCHEDULE_MONTHLY, ny, "2027-01-01T05:00:00.000Z");
	expect_boundary("2027-01-01T05:00:00Z", SCHEDULE_MONTHLY, ny, "2027-01-01T05:00:00.000Z");
}

Test(fftime, boundary_other_zones)
{
	expect_boundary("2026-06-10T12:00:00Z", SCHEDULE_DAILY, "Asia/Kolkata",
			"2026-06-10T18:30:00.000Z");
	expect_boundary("2026-06-10T12:00:00Z", SCHEDULE_DAILY, "Asia/Kathmandu",
			"2026-06-10T18:15:00.000Z");
	expect_boundary("2026-01-10T00:00:00Z", SCHEDULE_DAILY, "Australia/Sydney",
			"2026-01-10T13:00:00.000Z");
	expect_boundary("2026-07-10T00:00:00Z", SCHEDULE_DAILY, "Australia/Sydney",
			"2026-07-10T14:00:00.000Z");
	expect_boundary("2026-06-10T12:00:00Z", SCHEDULE_MONTHLY, "Europe/Berlin",
			"2026-06-30T22:00:00.000Z");
	expect_boundary("2026-06-10T12:00:00Z", SCHEDULE_DAILY, "Etc/GMT+5",
			"2026-06-11T05:00:00.000Z");
	expect_boundary("2026-06-10T12:00:00Z", SCHEDULE_DAILY, "Pacific/Kiritimati",
			"2026-06-11T10:00:00.000Z");
}

/* Past the last transition in the file the footer's POSIX rule decides. */
Test(fftime, boundary_far_future_uses_rule)
{
	expect_boundary("2050-07-15T12:00:00Z", SCHEDULE_DAILY, "America/New_York",
			"2050-07-16T04:00:00.000Z");
	expect_boundary("2050-01-15T12:00:00Z", SCHEDULE_DAILY, "America/New_York",
			"2050-01-16T05:00:00.000Z");
	expect_boundary("2060-01-10T00:00:00Z", SCHEDULE_DAILY, "Australia/Sydney",
			"2060-01-10T13:00:00.000Z");
	expect_boundary("2060-07-10T00:00:00Z", SCHEDULE_DAILY, "Australia/Sydney",
			"2060-07-10T14:00:00.000Z");
	expect_boundary("2099-10-30T12:00:00Z", SCHEDULE_MONTHLY, "Europe/London",
			"2099-11-01T00:00:00.000Z");
	expect_boundary("2099-06-30T12:00:00Z", SCHEDULE_MONTHLY, "Europe/London",
			"2099-06-30T23:00:00.000Z");
}

/* Zones whose clocks change at midnight: the day starts when the date changes. */
Test(fftime, boundary_midnight_transitions)
{
	/* Havana 2026-03-08: 00:00 CST never happens; the day begins at 01:00 CDT. */
	expect_boundary("2026-03-07T12:00:00Z", SCHEDULE_DAILY, "America/Havana",
			"2026-03-08T05:00:00.000Z");
	/* Havana 2026-11-01: 00:00-00:59 happens twice; the first 00:00 counts. */
	expect_boundary("2026-10-31T12:00:00Z", SCHEDULE_DAILY, "America/Havana",
			"2026-11-01T04:00:00.000Z");
	expect_boundary("2026-11-01T04:30:00Z", SCHEDULE_DAILY, "America/Havana",
			"2026-11-02T05:00:00.000Z");
	/* Santiago 2026-09-06: 00:00 -04 is skipped to 01:00 -03. */
	expect_boundary("2026-09-05T12:00:00Z", SCHEDULE_DAILY, "America/Santiago",
			"2026-09-06T04:00:00.000Z");
}

/*
 * Compare with the C library (TZ + mktime: fine in a single-threaded test process)
 * on many instants in several zones, wherever no clock change is near the answer.
 */
Test(fftime, boundary_matches_libc)
{
	const char *zones[] = {"America/New_York", "Europe/Berlin",	"Australia/Sydney",
			       "Asia/Tokyo",	   "America/Sao_Paulo", "Pacific/Chatham",
			       "Asia/Tehran",	   "Africa/Casablanca", "Europe/Dublin",
			       "America/St_Johns", "Pacific/Apia",	"Asia/Kolkata"};
	unsigned seed = 12345;
	int compared = 0;
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		setenv("TZ", zones[z], 1);
		tzset();
		for (int i = 0; i < 400; i++) {
			seed = seed * 1103515245u + 12345u;
			/* 1971 .. ~2105 */
			int64_t sec = 31536000 + (int64_t)(seed % 2000000u) * 2130;
			int64_t ms = sec * 1000 + (int64_t)(seed % 1000u);
			time_t t = (time_t)sec;
			struct tm tm;
			localtime_r(&t, &tm);
			tm.tm_mday += 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			tm.tm_isdst = -1;
			time_t want = mktime(&tm);
			struct tm a, b;
			time_t before = want - 30 * 3600, after = want + 30 * 3600;
			localtime_r(&before, &a);
			localtime_r(&after, &b);
			if (a.tm_gmtoff != b.tm_gmtoff)
				continue; /* a clock change nearby: covered by the cases above */
			int64_t got = fftime_next_boundary(ms, SCHEDULE_DAILY, zones[z]);
			cr_assert_eq(got, (int64_t)want * 1000, "%s at %lld", zones[z],
				     (long long)sec);
			compared++;
		}
	}
	cr_expect(compared > 3000, "only %d comparisons", compared);
}

Test(fftime, boundary_unknown_zone)
{
	int64_t ms = T("2026-03-10T12:00:00Z");
	const char *bad[] = {"Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime", "",
			     "America",		  "Europe/../UTC",    "Europe/Berlin ", "right/UTC",
			     "America//New_York", "America/New_York/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(fftime_next_boundary(ms, SCHEDULE_DAILY, bad[i]), -1, "'%s'", bad[i]);
		cr_expect_not(fftime_tz_valid(bad[i]), "'%s'", bad[i]);
	}
}

Test(fftime, tz_valid)
{
	cr_expect(fftime_tz_valid("UTC"));
	cr_expect(fftime_tz_valid("Europe/Berlin"));
	cr_expect(fftime_tz_valid("America/New_York"));
	cr_expect(fftime_tz_valid("America/Argentina/Buenos_Aires"));
	cr_expect(fftime_tz_valid("Etc/GMT-14"));
	cr_expect_not(fftime_tz_valid(NULL));
	cr_expect_not(fftime_tz_valid("Europe/Berlin\n"));
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* A corrupt zone file is an unknown zone, never a crash: every truncation of a real
 * file and a few corruptions, served through TZDIR. */
Test(fftime, corrupt_zone_files_are_rejected)
{
	FILE *f = fopen("/usr/share/zoneinfo/America/New_York", "rb");
	cr_assert_not_null(f);
	static unsigned char img[65536];
	size_t len = fread(img, 1, sizeof(img), f);
	fclose(f);
	cr_assert(len > 100);

	char *dir = tu_tempdir();
	char path[600];
	snprintf(path, sizeof(path), "%s/Test_Zone", dir);
	setenv("TZDIR", dir, 1);

	write_file(path, img, len);
	cr_expect(fftime_tz_valid("Test_Zone"));
	expect_boundary("2026-01-15T12:00:00Z", SCHEDULE_DAILY, "Test_Zone",
			"2026-01-16T05:00:00.000Z");
	cr_expect_not(fftime_tz_valid("America/New_York"), "TZDIR replaces the default");

	for (size_t cut = 0; cut < len - 1; cut++) {
		write_file(path, img, cut);
		int64_t b =
		    fftime_next_boundary(T("2026-01-15T12:00:00Z"), SCHEDULE_DAILY, "Test_Zone");
		(void)b;
	}
	/* A truncated header or transition table must not load. */
	write_file(path, img, 60);
	cr_expect_not(fftime_tz_valid("Test_Zone"));
	write_file(path, "TZif2 not really", 16);
	cr_expect_not(fftime_tz_valid("Test_Zone"));
	write_file(path, "", 0);
	cr_expect_not(fftime_tz_valid("Test_Zone"));

	/* Flip each byte of the file once; whatever loads must stay near. */
	int64_t at = T("2026-01-15T12:00:00Z");
	for (size_t i = 0; i < len; i++) {
		img[i] ^= 0xA5;
		write_file(path, img, len);
		int64_t b = fftime_next_boundary(at, SCHEDULE_DAILY, "Test_Zone");
		cr_assert(b == -1 || (b > at - 3 * FFTIME_DAY_MS && b < at + 3 * FFTIME_DAY_MS),
			  "byte %zu", i);
		img[i] ^= 0xA5;
	}

	unsetenv("TZDIR");
	tu_rmtree(dir);
	free(dir);
}
