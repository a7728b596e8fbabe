#ifndef EXCHANGE_TEST_CORE_UTIL_H
#define EXCHANGE_TEST_CORE_UTIL_H

/*
 * A tiny test runner shared by the core test programs.  Each test is a
 * function; CHECK records a failure (with file and line) and goes on, so
 * one run shows every broken expectation.  The program ends with the line
 * "N passed, M failed" and exits 1 when M > 0.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	test_checks_failed;		/* in the test now running */
static int	test_passed;
static int	test_failed;

#define CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			test_checks_failed++; \
			printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

/* Compare two int64 values, printing both when they differ. */
#define CHECK_EQ(a, b) \
	do { \
		int64_t		check_a_ = (int64_t) (a); \
		int64_t		check_b_ = (int64_t) (b); \
		if (check_a_ != check_b_) \
		{ \
			test_checks_failed++; \
			printf("  %s:%d: %s == %s failed: %" PRId64 " != %" PRId64 "\n", \
				   __FILE__, __LINE__, #a, #b, check_a_, check_b_); \
		} \
	} while (0)

#define CHECK_STR(a, b) \
	do { \
		const char *check_a_ = (a); \
		const char *check_b_ = (b); \
		if (strcmp(check_a_, check_b_) != 0) \
		{ \
			test_checks_failed++; \
			printf("  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", \
				   __FILE__, __LINE__, #a, #b, check_a_, check_b_); \
		} \
	} while (0)

#define RUN_TEST(fn) TestRun(#fn, fn)

/* Run one test function and count it as passed or failed. */
static inline void
TestRun(const char *name, void (*fn) (void))
{
	test_checks_failed = 0;
	fn();
	if (test_checks_failed == 0)
	{
		test_passed++;
		printf("ok   %s\n", name);
	}
	else
	{
		test_failed++;
		printf("FAIL %s (%d checks failed)\n", name, test_checks_failed);
	}
	fflush(stdout);
}

/* Print the final line; the exit status of the test program. */
static inline int
TestSummary(void)
{
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed == 0 ? 0 : 1;
}

#endif
