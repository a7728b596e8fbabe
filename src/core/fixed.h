#ifndef EXCHANGE_CORE_FIXED_H
#define EXCHANGE_CORE_FIXED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest decimal scale an asset, tick or lot may have. */
#define FIXED_MAX_SCALE 18

typedef enum FixedStatus
{
	FIXED_OK = 0,
	FIXED_SYNTAX,				/* not a plain decimal number */
	FIXED_NAN,					/* NaN */
	FIXED_INFINITE,				/* +/-Infinity */
	FIXED_TOO_PRECISE,			/* non-zero digits beyond the scale */
	FIXED_OVERFLOW				/* does not fit in int64 at the scale */
} FixedStatus;

/*
 * A decimal value: mantissa * 10^-scale, mantissa without trailing zeros
 * once normalised.
 */
typedef struct FixedDecimal
{
	int64_t		mantissa;
	int			scale;
} FixedDecimal;

extern FixedStatus FixedParse(const char *text, int scale, int64_t *units);
extern FixedStatus FixedParseDecimal(const char *text, FixedDecimal *out);
extern size_t FixedFormat(int64_t units, int scale, char *buf, size_t buflen);
extern const char *FixedStatusText(FixedStatus status);

extern bool FixedPow10(int exponent, int64_t *result);

/*
 * The arithmetic below runs several times per order and trade: inline, and
 * in 64 bits whenever that is exact, 128 bits only when it is not.
 */

/* a * b, true on overflow. */
static inline bool
FixedMulOverflow(int64_t a, int64_t b, int64_t *result)
{
	return __builtin_mul_overflow(a, b, result);
}

/* a + b, true on overflow. */
static inline bool
FixedAddOverflow(int64_t a, int64_t b, int64_t *result)
{
	return __builtin_add_overflow(a, b, result);
}

/* a * b * c computed exactly, true when the result leaves int64. */
static inline bool
FixedMul3Overflow(int64_t a, int64_t b, int64_t c, int64_t *result)
{
	int64_t		ab;
	__int128	ab128;
	__int128	abc;

	if (!__builtin_mul_overflow(a, b, &ab) &&
		!__builtin_mul_overflow(ab, c, result))
		return false;

	/*
	 * |a*b*c| >= |a*b| when c != 0, so a*b must fit int64 already, up to
	 * 2^63: (2^63) * -1 is INT64_MIN.  This also keeps ab * c in int128.
	 */
	ab128 = (__int128) a * b;
	if (c != 0 && (ab128 > (__int128) INT64_MAX + 1 || ab128 < INT64_MIN))
		return true;
	abc = ab128 * c;
	if (abc > INT64_MAX || abc < INT64_MIN)
		return true;
	*result = (int64_t) abc;
	return false;
}

/* Fee of bps basis points on a non-negative amount, rounded up. */
static inline int64_t
FixedFeeCeil(int64_t amount, int bps)
{
	int64_t		num;

	if (amount <= 0 || bps <= 0)
		return 0;
	if (!__builtin_mul_overflow(amount, (int64_t) bps, &num))
		return num / 10000 + (num % 10000 != 0);
	return (int64_t) (((__int128) amount * bps + 9999) / 10000);
}

#endif
