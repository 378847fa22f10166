/*
 * money.h - ISO 4217 currencies and integer money arithmetic.
 *
 * Money is always an int64 count of minor units plus a currency code. The exponent of
 * each currency comes from the built-in ISO 4217 table (JPY 0, USD 2, BHD 3, ...). The
 * pseudo-currency "POINT" (exponent 0) counts loyalty points. No float touches money.
 */
#ifndef FULFILL_MONEY_H
#define FULFILL_MONEY_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* Largest amount fulfill accepts anywhere (minor units): 10^15, so sums of many
 * amounts cannot overflow int64. */
#define MONEY_MAX INT64_C(1000000000000000)

/* Exponent (minor-unit digits) of `code` (3 upper-case letters, or "POINT"),
 * or -1 when it is not an active ISO 4217 code. */
int money_exponent(const char *code);

/* true when `code` is a known currency (or "POINT"). */
bool money_currency_valid(const char *code);

/* Format `amount` minor units of `currency` as a decimal string ("20.00", "-0.05",
 * "1500" for JPY) into `out` (size `n`, >= 32 suffices). Returns `out`. */
char *money_format(int64_t amount, const char *currency, char *out, size_t n);

/* Parse a decimal string ("20", "20.5", "20.50", "-3") of `currency` into minor units.
 * Rejects more fraction digits than the exponent, junk, and |value| > MONEY_MAX.
 * Returns 0 on success, -1 on error. */
int money_parse(const char *s, const char *currency, int64_t *out_amount);

/* `amount` * `bp` / 10000 rounded half-even (banker's rounding) at minor-unit precision.
 * Requires |amount| <= MONEY_MAX and 0 <= bp <= 1,000,000. */
int64_t money_percent_bp(int64_t amount, int64_t bp);

/* `amount` * num / den rounded half-even; den > 0, num >= 0, no overflow for
 * |amount|, num <= MONEY_MAX (uses 128-bit intermediates). */
int64_t money_mul_div(int64_t amount, int64_t num, int64_t den);

/* a + b, held at INT64_MAX / INT64_MIN instead of overflowing: for totals of amounts
 * converted at a rate (money_mul_div saturates a conversion past int64, which an
 * extreme rate can reach), where a wrapped sum would turn a huge total negative. */
int64_t money_add_sat(int64_t a, int64_t b);

#endif
