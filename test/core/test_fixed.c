/*
 * Unit tests of the fixed-point helpers in src/core/fixed.c: parsing of the
 * decimals the SQL layer hands over, formatting back, and the overflow-
 * checked arithmetic every amount goes through.
 */
#include "fixed.h"
#include "test_util.h"

typedef __int128 int128;

/* Parse text at scale, expecting status want and (when ok) units. */
static void
ExpectParse(const char *text, int scale, FixedStatus want, int64_t units,
			int line)
{
	int64_t		got = 12345;
	FixedStatus st = FixedParse(text, scale, &got);

	if (st != want || (want == FIXED_OK && got != units) ||
		(want != FIXED_OK && got != 12345))
	{
		test_checks_failed++;
		printf("  line %d: FixedParse(\"%s\", %d) = %s/%" PRId64
			   ", want %s/%" PRId64 "\n", line, text ? text : "(null)", scale,
			   FixedStatusText(st), got, FixedStatusText(want),
			   want == FIXED_OK ? units : (int64_t) 12345);
	}
}

#define PARSE_OK(text, scale, units) \
	ExpectParse(text, scale, FIXED_OK, units, __LINE__)
#define PARSE_ERR(text, scale, status) \
	ExpectParse(text, scale, status, 0, __LINE__)

/* ParseDecimal expecting (mantissa, scale) or a failure status. */
static void
ExpectDecimal(const char *text, FixedStatus want, int64_t mantissa,
			  int scale, int line)
{
	FixedDecimal d = {777, 77};
	FixedStatus st = FixedParseDecimal(text, &d);

	if (st != want ||
		(want == FIXED_OK && (d.mantissa != mantissa || d.scale != scale)) ||
		(want != FIXED_OK && (d.mantissa != 777 || d.scale != 77)))
	{
		test_checks_failed++;
		printf("  line %d: FixedParseDecimal(\"%s\") = %s/(%" PRId64
			   ", %d), want %s/(%" PRId64 ", %d)\n", line,
			   text ? text : "(null)", FixedStatusText(st), d.mantissa,
			   d.scale, FixedStatusText(want), mantissa, scale);
	}
}

#define DECIMAL_OK(text, mantissa, scale) \
	ExpectDecimal(text, FIXED_OK, mantissa, scale, __LINE__)
#define DECIMAL_ERR(text, status) \
	ExpectDecimal(text, status, 0, 0, __LINE__)

/* Format units at scale and compare with the expected text. */
static void
ExpectFormat(int64_t units, int scale, const char *want, int line)
{
	char		buf[64];
	size_t		len = FixedFormat(units, scale, buf, sizeof(buf));

	if (strcmp(buf, want) != 0 || len != strlen(want))
	{
		test_checks_failed++;
		printf("  line %d: FixedFormat(%" PRId64 ", %d) = \"%s\" (%zu), want \"%s\"\n",
			   line, units, scale, buf, len, want);
	}
}

#define FORMAT(units, scale, text) ExpectFormat(units, scale, text, __LINE__)

/* xorshift64*: deterministic pseudo-random numbers for the round trips. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* Next pseudo-random number (xorshift64*). */
static uint64_t
Rand64(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A random int64 biased towards the interesting edges. */
static int64_t
RandInt64(void)
{
	uint64_t	r = Rand64();

	switch (r % 8)
	{
		case 0:
			return INT64_MAX - (int64_t) (Rand64() % 1000);
		case 1:
			return INT64_MIN + (int64_t) (Rand64() % 1000);
		case 2:
			return (int64_t) (Rand64() % 2001) - 1000;
		case 3:
			return (int64_t) (Rand64() >> (Rand64() % 64));
		default:
			return (int64_t) Rand64();
	}
}

/* Ordinary decimals at various scales. */
static void
test_parse_plain(void)
{
	PARSE_OK("0", 0, 0);
	PARSE_OK("0", 8, 0);
	PARSE_OK("-0", 2, 0);
	PARSE_OK("+0.00", 2, 0);
	PARSE_OK("1", 0, 1);
	PARSE_OK("1", 8, 100000000);
	PARSE_OK("1.5", 2, 150);
	PARSE_OK("+1.5", 2, 150);
	PARSE_OK("-1.5", 2, -150);
	PARSE_OK("-0.01", 2, -1);
	PARSE_OK(".5", 1, 5);
	PARSE_OK("-.5", 1, -5);
	PARSE_OK("5.", 0, 5);
	PARSE_OK("5.", 3, 5000);
	PARSE_OK("0000000000000000000000000000000042", 0, 42);
	PARSE_OK("12345.678", 3, 12345678);
	PARSE_OK("0.000000000000000001", 18, 1);
}

/* Zeros past the scale are not extra precision. */
static void
test_parse_trailing_zeros(void)
{
	/* zeros beyond the scale carry no precision and are accepted */
	PARSE_OK("1.50", 1, 15);
	PARSE_OK("1.500000000000000000000000000000", 2, 150);
	PARSE_OK("2.000", 0, 2);
	PARSE_OK("-7.10", 1, -71);
	PARSE_OK("0.0000000000000000000000", 0, 0);
	PARSE_OK("1.230", 2, 123);
}

/* Non-zero digits past the scale are refused. */
static void
test_parse_too_precise(void)
{
	PARSE_ERR("1.234", 2, FIXED_TOO_PRECISE);
	PARSE_ERR("0.1", 0, FIXED_TOO_PRECISE);
	PARSE_ERR("-0.001", 2, FIXED_TOO_PRECISE);
	PARSE_ERR("1.0000000000000000001", 18, FIXED_TOO_PRECISE);
	PARSE_ERR("1.2300000000000000000000000001", 2, FIXED_TOO_PRECISE);
}

/* NaN and the infinities, spelled as numeric_out does. */
static void
test_parse_special(void)
{
	PARSE_ERR("NaN", 2, FIXED_NAN);
	PARSE_ERR("Infinity", 2, FIXED_INFINITE);
	PARSE_ERR("-Infinity", 2, FIXED_INFINITE);
	PARSE_ERR("+Infinity", 0, FIXED_INFINITE);
	/* only numeric_out's spellings are special; anything else is syntax */
	PARSE_ERR("nan", 2, FIXED_SYNTAX);
	PARSE_ERR("-NaN", 2, FIXED_SYNTAX);
	PARSE_ERR("inf", 2, FIXED_SYNTAX);
	PARSE_ERR("Infinityx", 2, FIXED_SYNTAX);
	DECIMAL_ERR("NaN", FIXED_NAN);
	DECIMAL_ERR("Infinity", FIXED_INFINITE);
	DECIMAL_ERR("-Infinity", FIXED_INFINITE);
}

/* Anything that is not a plain decimal. */
static void
test_parse_syntax(void)
{
	static const char *const bad[] = {
		"", "-", "+", ".", "-.", "+.", "..", "1..2", "1.2.3", " 1", "1 ",
		"1e5", "1E5", "0x10", "--1", "+-1", "-+1", "abc", "1a", "a1",
		"1,5", "1_000", "\t1", "1\n", "\xd9\xa1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		PARSE_ERR(bad[i], 2, FIXED_SYNTAX);
		DECIMAL_ERR(bad[i], FIXED_SYNTAX);
	}
	PARSE_ERR(NULL, 2, FIXED_SYNTAX);
	DECIMAL_ERR(NULL, FIXED_SYNTAX);
	/* the scale itself must be sane */
	PARSE_ERR("1", -1, FIXED_SYNTAX);
	PARSE_ERR("1", FIXED_MAX_SCALE + 1, FIXED_SYNTAX);
	PARSE_OK("1", FIXED_MAX_SCALE, 1000000000000000000LL);
}

/* The int64 edges at several scales, both signs. */
static void
test_parse_overflow(void)
{
	PARSE_OK("9223372036854775807", 0, INT64_MAX);
	PARSE_ERR("9223372036854775808", 0, FIXED_OVERFLOW);
	PARSE_OK("-9223372036854775808", 0, INT64_MIN);
	PARSE_ERR("-9223372036854775809", 0, FIXED_OVERFLOW);
	PARSE_OK("922337203685477580.7", 1, INT64_MAX);
	PARSE_ERR("922337203685477580.8", 1, FIXED_OVERFLOW);
	PARSE_OK("-922337203685477580.8", 1, INT64_MIN);
	PARSE_ERR("-922337203685477580.9", 1, FIXED_OVERFLOW);
	PARSE_OK("9.223372036854775807", 18, INT64_MAX);
	PARSE_ERR("9.223372036854775808", 18, FIXED_OVERFLOW);
	PARSE_OK("-9.223372036854775808", 18, INT64_MIN);
	PARSE_ERR("-9.223372036854775809", 18, FIXED_OVERFLOW);
	PARSE_ERR("10", 18, FIXED_OVERFLOW);
	PARSE_ERR("-10", 18, FIXED_OVERFLOW);
	PARSE_ERR("9.3", 18, FIXED_OVERFLOW);
	PARSE_OK("92233720368547758.07", 2, INT64_MAX);
	PARSE_ERR("92233720368547758.08", 2, FIXED_OVERFLOW);
	PARSE_ERR("92233720368547758.1", 2, FIXED_OVERFLOW);
	PARSE_ERR("92233720368547759", 2, FIXED_OVERFLOW);
	PARSE_ERR("92233720368547758070", 0, FIXED_OVERFLOW);
	PARSE_ERR("99999999999999999999999999999999999999999999999999", 0,
			  FIXED_OVERFLOW);
	PARSE_ERR("-99999999999999999999999999999999999999999999999999.5", 1,
			  FIXED_OVERFLOW);
	PARSE_ERR("1.99999999999999999999999999999999999999999999999999", 18,
			  FIXED_TOO_PRECISE);
	PARSE_ERR("9999999999.99999999999999999999999999999999", 18,
			  FIXED_OVERFLOW);
	DECIMAL_ERR("9223372036854775808", FIXED_OVERFLOW);
	DECIMAL_ERR("92233720368547758.08", FIXED_OVERFLOW);
	DECIMAL_OK("-9223372036854775808", INT64_MIN, 0);
	DECIMAL_OK("9.223372036854775807", INT64_MAX, 18);
}

/* Smallest exact (mantissa, scale) of a decimal. */
static void
test_parse_decimal(void)
{
	DECIMAL_OK("0", 0, 0);
	DECIMAL_OK("0.0", 0, 0);
	DECIMAL_OK("-0.000", 0, 0);
	DECIMAL_OK("25", 25, 0);
	DECIMAL_OK("2500", 2500, 0);
	DECIMAL_OK("0.0100", 1, 2);
	DECIMAL_OK("1.000", 1, 0);
	DECIMAL_OK("-1.50", -15, 1);
	DECIMAL_OK("+3.25", 325, 2);
	DECIMAL_OK(".5", 5, 1);
	DECIMAL_OK("5.", 5, 0);
	DECIMAL_OK("0.000000000000000001", 1, 18);
	DECIMAL_OK("0.0000000000000000010000", 1, 18);
	DECIMAL_ERR("0.0000000000000000001", FIXED_TOO_PRECISE);
	DECIMAL_ERR("1.1234567890123456789", FIXED_TOO_PRECISE);
	DECIMAL_OK("12345678901234567.89", 1234567890123456789LL, 2);
	DECIMAL_ERR("1.5x", FIXED_SYNTAX);
	DECIMAL_ERR("1.5 ", FIXED_SYNTAX);
}

/* Formatting without trailing zeros, and short buffers. */
static void
test_format(void)
{
	char		buf[8];
	size_t		len;

	FORMAT(0, 0, "0");
	FORMAT(0, 8, "0");
	FORMAT(150, 2, "1.5");
	FORMAT(-150, 2, "-1.5");
	FORMAT(100, 2, "1");
	FORMAT(-100, 2, "-1");
	FORMAT(5, 3, "0.005");
	FORMAT(-5, 3, "-0.005");
	FORMAT(120034, 4, "12.0034");
	FORMAT(1000, 0, "1000");
	FORMAT(1, 18, "0.000000000000000001");
	FORMAT(INT64_MAX, 0, "9223372036854775807");
	FORMAT(INT64_MIN, 0, "-9223372036854775808");
	FORMAT(INT64_MAX, 18, "9.223372036854775807");
	FORMAT(INT64_MIN, 18, "-9.223372036854775808");
	FORMAT(INT64_MIN, 1, "-922337203685477580.8");

	/* a short buffer truncates but always terminates */
	len = FixedFormat(-123456, 2, buf, 5);
	CHECK_STR(buf, "-123");
	CHECK_EQ(len, 4);
	len = FixedFormat(7, 0, buf, 1);
	CHECK_STR(buf, "");
	CHECK_EQ(len, 0);
	buf[0] = 'x';
	len = FixedFormat(7, 0, buf, 0);
	CHECK_EQ(len, 0);
	CHECK(buf[0] == 'x');
}

/* Format then parse gives back the units, at every scale. */
static void
test_round_trip(void)
{
	char		buf[64];

	for (int i = 0; i < 200000; i++)
	{
		int64_t		units = RandInt64();
		int			scale = (int) (Rand64() % (FIXED_MAX_SCALE + 1));
		int64_t		back = 0;
		int64_t		pow = 0;
		FixedDecimal d;
		FixedStatus st;
		int128		widened;

		FixedFormat(units, scale, buf, sizeof(buf));
		st = FixedParse(buf, scale, &back);
		if (st != FIXED_OK || back != units)
		{
			test_checks_failed++;
			printf("  round trip %" PRId64 " at scale %d via \"%s\": %s %" PRId64 "\n",
				   units, scale, buf, FixedStatusText(st), back);
			break;
		}

		/* ParseDecimal finds the same value with the fewest decimals */
		st = FixedParseDecimal(buf, &d);
		CHECK(st == FIXED_OK);
		CHECK(d.scale <= scale);
		CHECK(FixedPow10(scale - d.scale, &pow));
		widened = (int128) d.mantissa * pow;
		if (widened != units || (d.scale > 0 && d.mantissa % 10 == 0))
		{
			test_checks_failed++;
			printf("  ParseDecimal(\"%s\") = (%" PRId64 ", %d)\n", buf,
				   d.mantissa, d.scale);
			break;
		}

		/* formatting a normalised decimal gives the same text */
		{
			char		again[64];

			FixedFormat(d.mantissa, d.scale, again, sizeof(again));
			CHECK_STR(again, buf);
		}
	}

	/* text -> units -> text keeps canonical text */
	{
		static const char *const canon[] = {
			"0", "1", "-1", "0.5", "-0.5", "123.456", "0.000000000000000001",
			"9223372036854775807", "-9223372036854775808", "1000000",
		};

		for (size_t i = 0; i < sizeof(canon) / sizeof(canon[0]); i++)
		{
			FixedDecimal d;

			CHECK(FixedParseDecimal(canon[i], &d) == FIXED_OK);
			FixedFormat(d.mantissa, d.scale, buf, sizeof(buf));
			CHECK_STR(buf, canon[i]);
		}
	}
}

/* a * b * c with overflow detection, against int128. */
static void
test_mul3(void)
{
	int64_t		r = 0;

	CHECK(!FixedMul3Overflow(2, 3, 4, &r));
	CHECK_EQ(r, 24);
	CHECK(!FixedMul3Overflow(-2, 3, 4, &r));
	CHECK_EQ(r, -24);
	CHECK(!FixedMul3Overflow(INT64_MAX, 1, 1, &r));
	CHECK_EQ(r, INT64_MAX);
	CHECK(!FixedMul3Overflow(INT64_MAX, 1, -1, &r));
	CHECK_EQ(r, -INT64_MAX);
	CHECK(!FixedMul3Overflow(INT64_MIN, 1, 1, &r));
	CHECK_EQ(r, INT64_MIN);
	CHECK(FixedMul3Overflow(INT64_MIN, -1, 1, &r));
	CHECK(FixedMul3Overflow(INT64_MIN, 1, -1, &r));
	CHECK(FixedMul3Overflow(INT64_MAX, 2, 1, &r));
	CHECK(!FixedMul3Overflow(1, 1, INT64_MIN, &r));
	CHECK_EQ(r, INT64_MIN);
	/* an int64 a*b overflow does not matter when c is zero */
	r = 99;
	CHECK(!FixedMul3Overflow(INT64_MAX, INT64_MAX, 0, &r));
	CHECK_EQ(r, 0);
	CHECK(!FixedMul3Overflow(0, INT64_MIN, INT64_MIN, &r));
	CHECK_EQ(r, 0);
	CHECK(FixedMul3Overflow(INT64_MAX, INT64_MAX, 1, &r));
	CHECK(FixedMul3Overflow(INT64_MIN, INT64_MIN, INT64_MIN, &r));
	CHECK(!FixedMul3Overflow(3037000499LL, 3037000499LL, 1, &r));
	CHECK_EQ(r, 9223372030926249001LL);
	CHECK(FixedMul3Overflow(3037000500LL, 3037000500LL, 1, &r));
	/* 2^31 * 2^31 * 2 is 2^63: one past INT64_MAX, but INT64_MIN negated */
	CHECK(FixedMul3Overflow(1LL << 31, 1LL << 31, 2, &r));
	CHECK(!FixedMul3Overflow(1LL << 31, 1LL << 31, -2, &r));
	CHECK_EQ(r, INT64_MIN);
	CHECK(!FixedMul3Overflow(-(1LL << 31), 1LL << 31, 2, &r));
	CHECK_EQ(r, INT64_MIN);
	/* a*b alone may be 2^63 when c turns it into INT64_MIN */
	CHECK(!FixedMul3Overflow(1LL << 32, 1LL << 31, -1, &r));
	CHECK_EQ(r, INT64_MIN);
	CHECK(!FixedMul3Overflow(-(1LL << 19), -(1LL << 44), -1, &r));
	CHECK_EQ(r, INT64_MIN);
	CHECK(FixedMul3Overflow(1LL << 32, 1LL << 31, 1, &r));
	CHECK(FixedMul3Overflow(1LL << 32, 1LL << 31, -2, &r));

	/* against 128-bit arithmetic with overflow detection */
	for (int i = 0; i < 300000; i++)
	{
		int64_t		a = RandInt64() >> (Rand64() % 64);
		int64_t		b = RandInt64() >> (Rand64() % 64);
		int64_t		c = RandInt64() >> (Rand64() % 64);
		int128		ab;
		int128		abc;
		bool		want_over;
		bool		over;

		want_over = __builtin_mul_overflow((int128) a, (int128) b, &ab) ||
			__builtin_mul_overflow(ab, (int128) c, &abc) ||
			abc > INT64_MAX || abc < INT64_MIN;
		r = 0;
		over = FixedMul3Overflow(a, b, c, &r);
		if (over != want_over || (!over && r != (int64_t) abc))
		{
			test_checks_failed++;
			printf("  FixedMul3Overflow(%" PRId64 ", %" PRId64 ", %" PRId64 ") wrong\n",
				   a, b, c);
			break;
		}
	}
}

/* The small checked helpers. */
static void
test_mul_add_pow(void)
{
	int64_t		r = 0;

	CHECK(FixedPow10(0, &r) && r == 1);
	CHECK(FixedPow10(18, &r) && r == 1000000000000000000LL);
	CHECK(!FixedPow10(19, &r));
	CHECK(!FixedPow10(-1, &r));
	CHECK(!FixedMulOverflow(INT64_MAX, 1, &r) && r == INT64_MAX);
	CHECK(FixedMulOverflow(INT64_MAX, 2, &r));
	CHECK(FixedMulOverflow(INT64_MIN, -1, &r));
	CHECK(!FixedAddOverflow(INT64_MAX - 1, 1, &r) && r == INT64_MAX);
	CHECK(FixedAddOverflow(INT64_MAX, 1, &r));
	CHECK(FixedAddOverflow(INT64_MIN, -1, &r));
	CHECK_STR(FixedStatusText(FIXED_OK), "ok");
	CHECK(strlen(FixedStatusText(FIXED_OVERFLOW)) > 0);
	CHECK(strlen(FixedStatusText((FixedStatus) 99)) > 0);
}

/* Fees round up, never exceed the amount, match int128. */
static void
test_fee_ceil(void)
{
	CHECK_EQ(FixedFeeCeil(10000, 10), 10);
	CHECK_EQ(FixedFeeCeil(1, 1), 1);
	CHECK_EQ(FixedFeeCeil(9999, 1), 1);
	CHECK_EQ(FixedFeeCeil(10000, 1), 1);
	CHECK_EQ(FixedFeeCeil(10001, 1), 2);
	CHECK_EQ(FixedFeeCeil(1234, 10), 2);	/* 1.234 rounds up */
	CHECK_EQ(FixedFeeCeil(1000, 10), 1);	/* exact stays exact */
	CHECK_EQ(FixedFeeCeil(1, 10000), 1);
	CHECK_EQ(FixedFeeCeil(12345, 10000), 12345);
	CHECK_EQ(FixedFeeCeil(0, 10), 0);
	CHECK_EQ(FixedFeeCeil(-5, 10), 0);
	CHECK_EQ(FixedFeeCeil(100, 0), 0);
	CHECK_EQ(FixedFeeCeil(100, -3), 0);
	CHECK_EQ(FixedFeeCeil(INT64_MAX, 10000), INT64_MAX);
	CHECK_EQ(FixedFeeCeil(INT64_MAX, 1), 922337203685478LL);
	CHECK_EQ(FixedFeeCeil(INT64_MAX, 9999), 9222449699651090330LL);

	for (int i = 0; i < 200000; i++)
	{
		int64_t		amount = (int64_t) (Rand64() >> (1 + Rand64() % 63));
		int			bps = (int) (Rand64() % 10001);
		int128		num = (int128) amount * bps;
		int64_t		want = (int64_t) (num / 10000 + (num % 10000 != 0));
		int64_t		got = FixedFeeCeil(amount, bps);

		/* ceil: got * 10000 >= amount * bps > (got - 1) * 10000 */
		if (got != want || got > amount ||
			(int128) got * 10000 < num ||
			(got > 0 && (int128) (got - 1) * 10000 >= num))
		{
			test_checks_failed++;
			printf("  FixedFeeCeil(%" PRId64 ", %d) = %" PRId64 "\n",
				   amount, bps, got);
			break;
		}
	}
}

/* Run every test; the exit status says whether all passed. */
int
main(void)
{
	RUN_TEST(test_parse_plain);
	RUN_TEST(test_parse_trailing_zeros);
	RUN_TEST(test_parse_too_precise);
	RUN_TEST(test_parse_special);
	RUN_TEST(test_parse_syntax);
	RUN_TEST(test_parse_overflow);
	RUN_TEST(test_parse_decimal);
	RUN_TEST(test_format);
	RUN_TEST(test_round_trip);
	RUN_TEST(test_mul3);
	RUN_TEST(test_mul_add_pow);
	RUN_TEST(test_fee_ceil);
	return TestSummary();
}
