/*
 * money_test.c - unit tests for src/util/money.c: the ISO 4217 table, formatting and
 * strict parsing of decimal amounts, and half-even rounding of products.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "fulfill/money.h"

static const struct {
	const char *code;
	int exponent;
} known[] = {
    {"USD", 2},	  {"EUR", 2}, {"GBP", 2}, {"CHF", 2}, {"JPY", 0}, {"KRW", 0}, {"BHD", 3},
    {"KWD", 3},	  {"JOD", 3}, {"OMR", 3}, {"TND", 3}, {"LYD", 3}, {"IQD", 3}, {"CLF", 4},
    {"UYW", 4},	  {"ISK", 0}, {"VND", 0}, {"XAF", 0}, {"XOF", 0}, {"XPF", 0}, {"UGX", 0},
    {"PYG", 0},	  {"RWF", 0}, {"KMF", 0}, {"GNF", 0}, {"DJF", 0}, {"BIF", 0}, {"VUV", 0},
    {"CLP", 0},	  {"UYI", 0}, {"AED", 2}, {"ZWG", 2}, {"XCG", 2}, {"SLE", 2}, {"VED", 2},
    {"MRU", 2},	  {"STN", 2}, {"ZMW", 2}, {"XCD", 2}, {"HUF", 2}, {"IDR", 2}, {"INR", 2},
    {"POINT", 0},
};

Test(money, exponents_of_known_codes)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		cr_expect_eq(money_exponent(known[i].code), known[i].exponent, "%s", known[i].code);
		cr_expect(money_currency_valid(known[i].code), "%s", known[i].code);
	}
}

Test(money, rejects_metals_funds_without_minor_unit_and_junk)
{
	const char *bad[] = {"XAU", "XAG",    "XPT",  "XPD",   "XDR",  "XXX", "XTS", "XBA", "XBB",
			     "XBC", "XBD",    "XSU",  "XUA",   "HRK",  "usd", "Usd", "US",  "USDX",
			     "",    "POINTS", "POIN", "point", "US D", "DEM", "FRF", "ZZZ"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(money_exponent(bad[i]), -1, "'%s'", bad[i]);
		cr_expect_not(money_currency_valid(bad[i]), "'%s'", bad[i]);
	}
	cr_expect_eq(money_exponent(NULL), -1);
	cr_expect_not(money_currency_valid(NULL));
}

/* The table is the whole of ISO 4217 list one with a minor unit: enumerate every
 * three-letter code so that dropping or duplicating an entry is noticed. */
Test(money, table_size_and_exponent_histogram)
{
	int count = 0, by_exp[5] = {0};
	char code[4] = "AAA";
	for (char a = 'A'; a <= 'Z'; a++)
		for (char b = 'A'; b <= 'Z'; b++)
			for (char c = 'A'; c <= 'Z'; c++) {
				code[0] = a;
				code[1] = b;
				code[2] = c;
				int e = money_exponent(code);
				if (e < 0)
					continue;
				cr_assert(e <= 4, "%s has exponent %d", code, e);
				count++;
				by_exp[e]++;
			}
	cr_expect_eq(count, 169);
	cr_expect_eq(by_exp[0], 17);
	cr_expect_eq(by_exp[3], 7);
	cr_expect_eq(by_exp[4], 2);
	cr_expect_eq(by_exp[1], 0);
}

static void expect_format(int64_t amount, const char *cur, const char *want)
{
	char out[40];
	cr_expect_str_eq(money_format(amount, cur, out, sizeof(out)), want, "%lld %s",
			 (long long)amount, cur);
}

Test(money, format_by_exponent)
{
	expect_format(2000, "USD", "20.00");
	expect_format(-5, "USD", "-0.05");
	expect_format(0, "USD", "0.00");
	expect_format(1, "EUR", "0.01");
	expect_format(-100, "EUR", "-1.00");
	expect_format(1500, "JPY", "1500");
	expect_format(-1500, "JPY", "-1500");
	expect_format(0, "JPY", "0");
	expect_format(1234, "BHD", "1.234");
	expect_format(-1, "KWD", "-0.001");
	expect_format(12345, "CLF", "1.2345");
	expect_format(7, "UYW", "0.0007");
	expect_format(250, "POINT", "250");
	expect_format(MONEY_MAX, "USD", "10000000000000.00");
	expect_format(-MONEY_MAX, "USD", "-10000000000000.00");
}

Test(money, format_extremes_and_unknown_currency)
{
	expect_format(INT64_MAX, "USD", "92233720368547758.07");
	expect_format(INT64_MIN, "USD", "-92233720368547758.08");
	expect_format(INT64_MIN, "JPY", "-9223372036854775808");
	expect_format(1234, "XXX", "1234");
	expect_format(1234, NULL, "1234");
}

Test(money, format_truncates_to_buffer)
{
	char out[6];
	memset(out, 'x', sizeof(out));
	money_format(123456, "USD", out, sizeof(out));
	cr_expect_str_eq(out, "1234.");
	cr_expect_null(money_format(1, "USD", NULL, 0));
	char one = 'x';
	money_format(1, "USD", &one, 0);
	cr_expect_eq(one, 'x');
}

static void expect_parse(const char *s, const char *cur, int64_t want)
{
	int64_t got = -42;
	cr_expect_eq(money_parse(s, cur, &got), 0, "'%s' %s", s, cur);
	cr_expect_eq(got, want, "'%s' %s: %lld", s, cur, (long long)got);
}

static void expect_parse_fail(const char *s, const char *cur)
{
	int64_t got = -42;
	cr_expect_eq(money_parse(s, cur, &got), -1, "'%s' %s", s ? s : "(null)", cur);
	cr_expect_eq(got, -42, "output written on failure");
}

Test(money, parse_accepts_decimal_forms)
{
	expect_parse("20", "USD", 2000);
	expect_parse("20.5", "USD", 2050);
	expect_parse("20.50", "USD", 2050);
	expect_parse("-3", "USD", -300);
	expect_parse("-0.05", "USD", -5);
	expect_parse("0", "USD", 0);
	expect_parse("-0", "USD", 0);
	expect_parse("007.50", "USD", 750);
	expect_parse("1500", "JPY", 1500);
	expect_parse("1.234", "BHD", 1234);
	expect_parse("0.001", "BHD", 1);
	expect_parse("1.2", "BHD", 1200);
	expect_parse("1.2345", "CLF", 12345);
	expect_parse("42", "POINT", 42);
}

Test(money, parse_rejects_junk)
{
	const char *bad[] = {"",    "-",   "+1",    " 1",    "1 ",   "1e3",   "20.",
			     ".5",  "-.5", "1,000", "--1",   "0x10", "1.2.3", "١",
			     "1\n", "NaN", "inf",   "1_000", "- 1",  "1.-5",  "1.5e1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_parse_fail(bad[i], "USD");
	expect_parse_fail(NULL, "USD");
	expect_parse_fail("1", "XAU");
	expect_parse_fail("1", "usd");
	expect_parse_fail("1", NULL);
}

Test(money, parse_rejects_excess_fraction_digits)
{
	expect_parse_fail("20.505", "USD");
	expect_parse_fail("20.500", "USD");
	expect_parse_fail("1500.0", "JPY");
	expect_parse_fail("1.", "JPY");
	expect_parse_fail("1.2345", "BHD");
	expect_parse_fail("0.00001", "CLF");
}

Test(money, parse_limits)
{
	expect_parse("10000000000000.00", "USD", MONEY_MAX);
	expect_parse("-10000000000000", "USD", -MONEY_MAX);
	expect_parse_fail("10000000000000.01", "USD");
	expect_parse_fail("-10000000000000.01", "USD");
	expect_parse("1000000000000000", "JPY", MONEY_MAX);
	expect_parse_fail("1000000000000001", "JPY");
	expect_parse("1000000000000.000", "BHD", MONEY_MAX);
	expect_parse_fail("1000000000000.001", "BHD");
	expect_parse_fail("10000000000001", "USD");
	expect_parse_fail("99999999999999999999999999999999999999", "USD");
	expect_parse("00000000000000000000000000000000000001.5", "USD", 150);
	expect_parse_fail("9223372036854775807", "JPY");
	expect_parse_fail("18446744073709551617", "JPY");
}

Test(money, format_parse_round_trip)
{
	const char *curs[] = {"USD", "JPY", "BHD", "CLF", "POINT"};
	const int64_t amounts[] = {0,	1,   -1,    9,		10,	   99,
				   100, 101, 12345, -987654321, MONEY_MAX, -MONEY_MAX};
	for (size_t c = 0; c < sizeof(curs) / sizeof(curs[0]); c++)
		for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
			char text[40];
			int64_t back = 0;
			money_format(amounts[i], curs[c], text, sizeof(text));
			cr_expect_eq(money_parse(text, curs[c], &back), 0, "%s", text);
			cr_expect_eq(back, amounts[i], "%s %s", text, curs[c]);
		}
}

Test(money, mul_div_half_even_ties)
{
	cr_expect_eq(money_mul_div(5, 1, 2), 2);   /* 2.5 -> 2 */
	cr_expect_eq(money_mul_div(7, 1, 2), 4);   /* 3.5 -> 4 */
	cr_expect_eq(money_mul_div(3, 1, 2), 2);   /* 1.5 -> 2 */
	cr_expect_eq(money_mul_div(1, 1, 2), 0);   /* 0.5 -> 0 */
	cr_expect_eq(money_mul_div(-5, 1, 2), -2); /* -2.5 -> -2 */
	cr_expect_eq(money_mul_div(-7, 1, 2), -4); /* -3.5 -> -4 */
	cr_expect_eq(money_mul_div(-1, 1, 2), 0);  /* -0.5 -> 0 */
	cr_expect_eq(money_mul_div(-3, 1, 2), -2); /* -1.5 -> -2 */
	cr_expect_eq(money_mul_div(25, 1, 10), 2);
	cr_expect_eq(money_mul_div(35, 1, 10), 4);
}

Test(money, mul_div_non_ties_round_to_nearest)
{
	cr_expect_eq(money_mul_div(251, 1, 100), 3);
	cr_expect_eq(money_mul_div(249, 1, 100), 2);
	cr_expect_eq(money_mul_div(-251, 1, 100), -3);
	cr_expect_eq(money_mul_div(-249, 1, 100), -2);
	cr_expect_eq(money_mul_div(10, 1, 3), 3);
	cr_expect_eq(money_mul_div(20, 1, 3), 7);
	cr_expect_eq(money_mul_div(-20, 1, 3), -7);
	cr_expect_eq(money_mul_div(100, 0, 7), 0);
	cr_expect_eq(money_mul_div(0, 5, 7), 0);
	cr_expect_eq(money_mul_div(1234, 1, 1), 1234);
}

/* Compare with a reference written differently: floor division and an explicit
 * comparison of the remainder with half the divisor. */
static int64_t reference_half_even(int64_t a, int64_t num, int64_t den)
{
	int64_t p = a * num;
	int64_t q = p / den, r = p % den;
	if (r < 0) {
		q -= 1;
		r += den;
	}
	/* now p = q * den + r with 0 <= r < den: nearest is q or q + 1 */
	if (2 * r > den || (2 * r == den && (q % 2 != 0)))
		q += 1;
	return q;
}

Test(money, mul_div_matches_reference_exhaustively)
{
	for (int64_t a = -300; a <= 300; a++)
		for (int64_t num = 0; num <= 40; num++)
			for (int64_t den = 1; den <= 24; den++)
				cr_assert_eq(money_mul_div(a, num, den),
					     reference_half_even(a, num, den), "%lld*%lld/%lld",
					     (long long)a, (long long)num, (long long)den);
}

Test(money, percent_bp)
{
	cr_expect_eq(money_percent_bp(2000, 1000), 200); /* 10% of $20.00 */
	cr_expect_eq(money_percent_bp(2000, 10000), 2000);
	cr_expect_eq(money_percent_bp(2000, 0), 0);
	cr_expect_eq(money_percent_bp(25, 1000), 2);	 /* 2.5 -> 2 */
	cr_expect_eq(money_percent_bp(35, 1000), 4);	 /* 3.5 -> 4 */
	cr_expect_eq(money_percent_bp(-25, 1000), -2);	 /* -2.5 -> -2 */
	cr_expect_eq(money_percent_bp(-35, 1000), -4);	 /* -3.5 -> -4 */
	cr_expect_eq(money_percent_bp(1, 5000), 0);	 /* 0.5 -> 0 */
	cr_expect_eq(money_percent_bp(3, 5000), 2);	 /* 1.5 -> 2 */
	cr_expect_eq(money_percent_bp(1999, 1250), 250); /* 249.875 -> 250 */
	cr_expect_eq(money_percent_bp(7999, 333), 266);	 /* 266.3667 -> 266 */
	cr_expect_eq(money_percent_bp(1, 1), 0);
}

Test(money, percent_bp_limits)
{
	cr_expect_eq(money_percent_bp(MONEY_MAX, 1000000), MONEY_MAX * 100);
	cr_expect_eq(money_percent_bp(-MONEY_MAX, 1000000), -MONEY_MAX * 100);
	cr_expect_eq(money_percent_bp(MONEY_MAX, 1), MONEY_MAX / 10000);
	cr_expect_eq(money_percent_bp(MONEY_MAX - 1, 1), MONEY_MAX / 10000);  /* .9999 */
	cr_expect_eq(money_percent_bp(MONEY_MAX - 1, 3333), 333300000000000); /* ...999.6667 */
}

Test(money, mul_div_wide_intermediates)
{
	/* 10^15 * 10^15 overflows int64 but not the 128-bit product. */
	cr_expect_eq(money_mul_div(MONEY_MAX, MONEY_MAX, MONEY_MAX), MONEY_MAX);
	cr_expect_eq(money_mul_div(-MONEY_MAX, MONEY_MAX, MONEY_MAX), -MONEY_MAX);
	cr_expect_eq(money_mul_div(MONEY_MAX, MONEY_MAX - 1, MONEY_MAX), MONEY_MAX - 1);
	/* (10^15 - 1) * 3 / 6 = 499999999999999.5 -> even neighbour */
	cr_expect_eq(money_mul_div(MONEY_MAX - 1, 3, 6), 500000000000000);
	cr_expect_eq(money_mul_div(MONEY_MAX - 3, 3, 6), 499999999999998);
	cr_expect_eq(money_mul_div(INT64_MAX, INT64_MAX, INT64_MAX), INT64_MAX);
	cr_expect_eq(money_mul_div(INT64_MIN, INT64_MAX, INT64_MAX), INT64_MIN);
	cr_expect_eq(money_mul_div(INT64_MIN, 1, 2), INT64_MIN / 2);
}

Test(money, mul_div_saturates_out_of_range)
{
	cr_expect_eq(money_mul_div(MONEY_MAX, MONEY_MAX, 1), INT64_MAX);
	cr_expect_eq(money_mul_div(-MONEY_MAX, MONEY_MAX, 1), INT64_MIN);
}

Test(money, add_saturates_instead_of_wrapping)
{
	cr_assert_eq(money_add_sat(2, 3), 5);
	cr_assert_eq(money_add_sat(-2, 3), 1);
	cr_assert_eq(money_add_sat(INT64_MAX, 1), INT64_MAX);
	cr_assert_eq(money_add_sat(INT64_MAX - 5, 10), INT64_MAX);
	cr_assert_eq(money_add_sat(INT64_MIN, -1), INT64_MIN);
	cr_assert_eq(money_add_sat(INT64_MAX, INT64_MIN), -1);
	/* a conversion that saturated, added to a running total: still the maximum */
	cr_assert_eq(money_add_sat(money_mul_div(MONEY_MAX, MONEY_MAX, 1), MONEY_MAX), INT64_MAX);
}
