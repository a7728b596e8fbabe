# Tests and microbenchmark of the plain-C matching core (src/core), built
# with the system compiler alone: no PostgreSQL needed.
#
# Included by the top-level Makefile, or standalone from the repository
# root:
#     make -f test/core/core.mk core-test     unit + randomized tests, ASan/UBSan
#     make -f test/core/core.mk core-bench    -O2 microbenchmark, and its
#                                              instructions under callgrind
# Paths are relative to the repository root, where make runs.
#
# CORE_RANDOM_ARGS = "seed ops" for the randomized test (default 1 200000);
# CORE_BENCH_ARGS = "operations [seed [repeats [book]]]" for the benchmark,
# CORE_CALLGRIND_OPS = operations of its callgrind run (default 200000).

# Included from another makefile: keep its default goal, not core-test.
ifneq ($(firstword $(MAKEFILE_LIST)),$(lastword $(MAKEFILE_LIST)))
core_mk_saved_goal := $(.DEFAULT_GOAL)
endif

CORE_SRC = $(wildcard src/core/*.c)
CORE_HDR = $(wildcard src/core/*.h)
CORE_TEST_DIR = test/core
CORE_BIN = $(CORE_TEST_DIR)/bin
CORE_TESTS = test_fixed test_core test_random
CORE_TEST_BINS = $(addprefix $(CORE_BIN)/,$(CORE_TESTS))
CORE_CC ?= cc
CORE_TEST_CFLAGS = -std=gnu11 -O1 -g -Wall -Wextra -Werror \
	-fsanitize=address,undefined -fno-sanitize-recover=all -Isrc/core
CORE_BENCH_CFLAGS = -std=gnu11 -O2 -g -Wall -Wextra -Werror -Isrc/core
CORE_RANDOM_ARGS ?=
CORE_BENCH_ARGS ?=

.PHONY: core-test core-bench core-clean

# Run every test even after a failure, then fail if any did.
core-test: $(CORE_TEST_BINS)
	@failed=""; \
	for t in $(CORE_TEST_BINS); do \
		echo "== $$t"; \
		case $$t in \
			*/test_random) args="$(CORE_RANDOM_ARGS)";; \
			*) args="";; \
		esac; \
		$$t $$args || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "core-test: FAILED:$$failed"; exit 1; fi; \
	echo "core-test: all passed"

core-bench: $(CORE_BIN)/bench_core
	sh $(CORE_TEST_DIR)/bench_core.sh $(CORE_BIN)/bench_core $(CORE_BENCH_ARGS)

$(CORE_BIN)/test_%: $(CORE_TEST_DIR)/test_%.c $(CORE_TEST_DIR)/test_util.h \
		$(CORE_SRC) $(CORE_HDR) | $(CORE_BIN)
	$(CORE_CC) $(CORE_TEST_CFLAGS) -o $@ $< $(CORE_SRC)

$(CORE_BIN)/bench_core: $(CORE_TEST_DIR)/bench_core.c $(CORE_SRC) \
		$(CORE_HDR) | $(CORE_BIN)
	$(CORE_CC) $(CORE_BENCH_CFLAGS) -o $@ $< $(CORE_SRC)

$(CORE_BIN):
	mkdir -p $@

core-clean:
	rm -rf $(CORE_BIN)

ifneq ($(firstword $(MAKEFILE_LIST)),$(lastword $(MAKEFILE_LIST)))
.DEFAULT_GOAL := $(core_mk_saved_goal)
endif
