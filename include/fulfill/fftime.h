/*
 * fftime.h - timestamps: int64 milliseconds since the Unix epoch, UTC.
 *
 * Every time fulfill stores or prints is RFC 3339 UTC with millisecond precision
 * ("2026-11-22T10:00:00.000Z"). Calendar boundaries for payout schedules are computed
 * in an IANA time zone (default UTC).
 */
#ifndef FULFILL_FFTIME_H
#define FULFILL_FFTIME_H

#include <stdint.h>
#include <stddef.h>

#define FFTIME_DAY_MS INT64_C(86400000)

/* Current wall-clock time in ms; overridden by fftime_set_now() (tests, --now). */
int64_t fftime_now(void);
/* Fix the clock at `ms` (0 restores the real clock). Process-wide. */
void fftime_set_now(int64_t ms);

/* Format `ms` as "YYYY-MM-DDTHH:MM:SS.mmmZ" into `out` (>= 25 bytes). Returns out. */
char *fftime_format(int64_t ms, char *out, size_t n);

/* Parse RFC 3339 ("2026-10-01T09:00:00Z", fractions, "+02:00" offsets) or a bare
 * date "2026-10-01" (midnight UTC). Returns 0, or -1 when malformed/out of range. */
int fftime_parse(const char *s, int64_t *out_ms);

/* Calendar year (UTC) of `ms`. */
int fftime_year(int64_t ms);
/* First ms of calendar year `year` UTC. */
int64_t fftime_year_start(int year);

enum fftime_schedule { SCHEDULE_IMMEDIATE, SCHEDULE_DAILY, SCHEDULE_WEEKLY, SCHEDULE_MONTHLY };

/* The release time for something that becomes releasable at `ms` under `schedule`:
 * `ms` itself for immediate; otherwise the first boundary at or after `ms` (00:00 each
 * day; Monday 00:00; the 1st of the month 00:00) in time zone `tz` (IANA name, NULL or
 * "UTC" for UTC). Returns -1 when `tz` is unknown. */
int64_t fftime_next_boundary(int64_t ms, enum fftime_schedule schedule, const char *tz);

/* true when `tz` names a time zone this machine knows ("UTC", "Europe/Berlin"). */
int fftime_tz_valid(const char *tz);

#endif
