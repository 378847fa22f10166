/*
 * money.c - the ISO 4217 currency table and integer money arithmetic of money.h.
 *
 * Every amount in fulfill is an int64 count of minor units; this file is where a
 * currency code turns into its exponent, where decimal text turns into minor units and
 * back, and where percentages are applied with half-even rounding. Nothing here uses
 * floating point: products go through 128-bit integers so that amount * rate never
 * overflows before the division.
 */
#include "fulfill/money.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef __int128 money_i128;

struct currency {
	char code[6];
	signed char exponent;
};

/*
 * ISO 4217 list one (current currency & funds codes), sorted by code for bsearch().
 *
 * Included: every code whose minor unit is defined, i.e. every code that can express
 * an amount as an integer count of minor units. That covers national currencies and the
 * fund codes that carry a minor unit (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW).
 * Excluded: codes whose minor unit is "N.A." in the standard - precious metals (XAU,
 * XAG, XPD, XPT), the IMF SDR (XDR), the bond-market units (XBA, XBB, XBC, XBD), XSU,
 * XUA, the testing code XTS and "no currency" XXX - because no reward can be paid in
 * them. Withdrawn codes (HRK since Croatia adopted the euro in 2023) are excluded; codes
 * in a changeover period stay until ISO withdraws them (ANG beside XCG, SLL beside SLE,
 * ZWL beside ZWG) so that existing balances keep a valid currency.
 * "POINT" (exponent 0) is fulfill's pseudo-currency for loyalty points; it sorts
 * between PLN and PYG.
 */
/* clang-format off */
static const struct currency currencies[] = {
	{"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2},
	{"ARS", 2}, {"AUD", 2}, {"AWG", 2}, {"AZN", 2}, {"BAM", 2}, {"BBD", 2},
	{"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0}, {"BMD", 2}, {"BND", 2},
	{"BOB", 2}, {"BOV", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2},
	{"BYN", 2}, {"BZD", 2}, {"CAD", 2}, {"CDF", 2}, {"CHE", 2}, {"CHF", 2},
	{"CHW", 2}, {"CLF", 4}, {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"COU", 2},
	{"CRC", 2}, {"CUC", 2}, {"CUP", 2}, {"CVE", 2}, {"CZK", 2}, {"DJF", 0},
	{"DKK", 2}, {"DOP", 2}, {"DZD", 2}, {"EGP", 2}, {"ERN", 2}, {"ETB", 2},
	{"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2}, {"GHS", 2},
	{"GIP", 2}, {"GMD", 2}, {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2},
	{"HNL", 2}, {"HTG", 2}, {"HUF", 2}, {"IDR", 2}, {"ILS", 2}, {"INR", 2},
	{"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2}, {"JOD", 3}, {"JPY", 0},
	{"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0},
	{"KWD", 3}, {"KYD", 2}, {"KZT", 2}, {"LAK", 2}, {"LBP", 2}, {"LKR", 2},
	{"LRD", 2}, {"LSL", 2}, {"LYD", 3}, {"MAD", 2}, {"MDL", 2}, {"MGA", 2},
	{"MKD", 2}, {"MMK", 2}, {"MNT", 2}, {"MOP", 2}, {"MRU", 2}, {"MUR", 2},
	{"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MXV", 2}, {"MYR", 2}, {"MZN", 2},
	{"NAD", 2}, {"NGN", 2}, {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2},
	{"OMR", 3}, {"PAB", 2}, {"PEN", 2}, {"PGK", 2}, {"PHP", 2}, {"PKR", 2},
	{"PLN", 2}, {"POINT", 0}, {"PYG", 0}, {"QAR", 2}, {"RON", 2}, {"RSD", 2},
	{"RUB", 2}, {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2},
	{"SEK", 2}, {"SGD", 2}, {"SHP", 2}, {"SLE", 2}, {"SLL", 2}, {"SOS", 2},
	{"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2}, {"SZL", 2},
	{"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2},
	{"TTD", 2}, {"TWD", 2}, {"TZS", 2}, {"UAH", 2}, {"UGX", 0}, {"USD", 2},
	{"USN", 2}, {"UYI", 0}, {"UYU", 2}, {"UYW", 4}, {"UZS", 2}, {"VED", 2},
	{"VES", 2}, {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0}, {"XCD", 2},
	{"XCG", 2}, {"XOF", 0}, {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2},
	{"ZWG", 2}, {"ZWL", 2},
};
/* clang-format on */

#define CURRENCY_COUNT (sizeof(currencies) / sizeof(currencies[0]))

static int currency_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct currency *)elem)->code);
}

int money_exponent(const char *code)
{
	if (!code)
		return -1;
	/* Reject anything that could not be in the table before searching it. */
	size_t len = strnlen(code, 6);
	if (len != 3 && len != 5)
		return -1;
	const struct currency *c =
	    bsearch(code, currencies, CURRENCY_COUNT, sizeof(currencies[0]), currency_cmp);
	return c ? c->exponent : -1;
}

bool money_currency_valid(const char *code) { return money_exponent(code) >= 0; }

/* 10^e for 0 <= e <= 18. */
static int64_t pow10_i64(int e)
{
	int64_t p = 1;
	while (e-- > 0)
		p *= 10;
	return p;
}

/*
 * An unknown currency formats as the plain count of minor units (exponent 0): callers
 * validate currencies where they enter, and a log line is more useful with a number in
 * it than with an empty string.
 */
char *money_format(int64_t amount, const char *currency, char *out, size_t n)
{
	if (!out || n == 0)
		return out;
	int exp = money_exponent(currency);
	if (exp < 0)
		exp = 0;

	/* Work on the magnitude as uint64 so INT64_MIN has a well-defined value. */
	uint64_t mag = amount < 0 ? (uint64_t)0 - (uint64_t)amount : (uint64_t)amount;
	uint64_t scale = (uint64_t)pow10_i64(exp);
	uint64_t units = mag / scale;
	uint64_t frac = mag % scale;
	char frac_text[8] = "";
	if (exp > 0) {
		/* Exponents are at most 4, so the fraction always fits. */
		for (int i = exp - 1; i >= 0; i--, frac /= 10)
			frac_text[i] = (char)('0' + frac % 10);
		frac_text[exp] = '\0';
	}
	snprintf(out, n, "%s%llu%s%s", amount < 0 ? "-" : "", (unsigned long long)units,
		 exp > 0 ? "." : "", frac_text);
	return out;
}

/*
 * Grammar: ["-"] digit+ ["." digit+], nothing else (no "+", no spaces, no exponent,
 * no "20." or ".5"). Leading zeros are accepted: "007.50" is unambiguous and CSV
 * exports from other systems produce it.
 */
int money_parse(const char *s, const char *currency, int64_t *out_amount)
{
	int exp = money_exponent(currency);
	if (!s || exp < 0)
		return -1;

	bool neg = false;
	if (*s == '-') {
		neg = true;
		s++;
	}
	if (*s < '0' || *s > '9')
		return -1;

	/* Accumulate minor units, stopping as soon as MONEY_MAX is passed: MONEY_MAX * 10
	 * + 9 is far below INT64_MAX, so the arithmetic cannot overflow. */
	int64_t v = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > MONEY_MAX)
			return -1;
	}
	int frac_digits = 0;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (++frac_digits > exp)
				return -1;
			v = v * 10 + (*s - '0');
			if (v > MONEY_MAX)
				return -1;
		}
	}
	if (*s != '\0')
		return -1;
	for (; frac_digits < exp; frac_digits++) {
		v *= 10;
		if (v > MONEY_MAX)
			return -1;
	}
	if (out_amount)
		*out_amount = neg ? -v : v;
	return 0;
}

/*
 * Half-even division of a 128-bit product. C division truncates toward zero, so the
 * remainder has the sign of the dividend; the quotient moves one step away from zero
 * when the remainder is more than half the divisor, or exactly half and the quotient is
 * odd. A result outside int64 saturates (it cannot happen within the documented limits
 * when den >= num, which is every percentage).
 */
int64_t money_mul_div(int64_t amount, int64_t num, int64_t den)
{
	assert(den > 0);
	assert(num >= 0);

	money_i128 p = (money_i128)amount * num;
	money_i128 q = p / den;
	money_i128 r = p % den;
	money_i128 twice = (r < 0 ? -r : r) * 2;

	if (twice > den || (twice == den && (q & 1) != 0))
		q += p < 0 ? -1 : 1;

	if (q > INT64_MAX)
		return INT64_MAX;
	if (q < INT64_MIN)
		return INT64_MIN;
	return (int64_t)q;
}

int64_t money_add_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

int64_t money_percent_bp(int64_t amount, int64_t bp)
{
	assert(bp >= 0 && bp <= 1000000);
	return money_mul_div(amount, bp, 10000);
}
