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
extern bool FixedMulOverflow(int64_t a, int64_t b, int64_t *result);
extern bool FixedAddOverflow(int64_t a, int64_t b, int64_t *result);
extern bool FixedMul3Overflow(int64_t a, int64_t b, int64_t c,
							  int64_t *result);
extern int64_t FixedFeeCeil(int64_t amount, int bps);

#endif
