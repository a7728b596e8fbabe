# exchange: PGXS build of the extension, plus the project's run, test and
# bench targets.  On a fresh Debian 12 machine `make run` and `make test`
# first install what is missing (scripts/install-deps.sh).

EXTENSION = exchange
MODULE_big = exchange
CORE_OBJS = src/core/fixed.o src/core/core.o src/core/balances.o \
	src/core/book.o src/core/match.o
OBJS = src/exchange.o src/guc.o src/shmem.o src/mailbox.o src/engine.o \
	src/apply.o src/persist.o src/rebuild.o src/requests.o src/order_spec.o src/status.o src/acknowledger.o src/walahead.o \
	src/writeback.o src/extend.o src/latency.o \
	$(CORE_OBJS)
DATA = sql/exchange--1.0.sql sql/exchange--1.0--1.1.sql sql/exchange--1.1--1.2.sql \
	sql/exchange--1.2--1.3.sql sql/exchange--1.3--1.4.sql sql/exchange--1.4--1.5.sql \
	sql/exchange--1.5--1.6.sql

# pg_regress: sql/<test>.sql against expected/<test>.out, in a temporary
# instance with the library preloaded (test/regress.conf)
REGRESS = setup errors trading idempotency batch acknowledger row_places wal_ahead privileges batch_delay index_order order_text upgrade wal_stats latency enum_memo column_maps extend_ahead
REGRESS_OPTS = --temp-instance=tmp_check --temp-config=test/regress.conf
EXTRA_CLEAN = tmp_check results regression.diffs regression.out test/core/bin

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers -Wno-cast-function-type

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

.PHONY: deps run stop status test regress core-test pgtap spec-fuzz crash-test writeback-test wakeup-test ha-test dr-test dr-drill bench

ifeq ($(wildcard $(PGXS)),)
# No postgresql-server-dev-15 yet: install the dependencies, then go on.
all install run stop status test regress core-test pgtap spec-fuzz crash-test writeback-test wakeup-test ha-test dr-test dr-drill bench:
	scripts/install-deps.sh
	$(MAKE) $@
else
include $(PGXS)
-include test/core/core.mk

# PGXS tracks no header dependencies: every object depends on every header
$(OBJS): $(wildcard src/*.h src/core/*.h)

deps:
	scripts/install-deps.sh

# Set up and run: a local 3-node Patroni cluster (etcd, HAProxy) with the
# exchange and demo markets -- region A -- and its standby cluster in
# region B; stop them; show them.
run: deps all install
	scripts/cluster.sh run
stop:
	scripts/cluster.sh stop
status:
	scripts/cluster.sh status

# Every test.  Each suite starts and stops its own servers.
test: deps all install
	$(MAKE) core-test
	$(MAKE) regress
	$(MAKE) pgtap
	$(MAKE) spec-fuzz
	$(MAKE) crash-test
	$(MAKE) writeback-test
	$(MAKE) wakeup-test
	$(MAKE) ha-test
	$(MAKE) dr-test
	$(MAKE) dr-drill
	EXCHANGE_B_STREAM=0 $(MAKE) dr-drill
	@echo "all test suites passed"

regress: all install
	scripts/regress.sh
pgtap: all install
	bash test/pgtap/run.sh
# place_orders' two ways in (text, jsonb) on random and broken documents
spec-fuzz: all install
	bash test/spec/run.sh
crash-test: all install
	bash test/crash/run.sh
# the writeback pacer on a primary and its hot standby, pages counted by
# cachestat(2) (test/writeback/run.sh)
writeback-test: all install
	bash test/writeback/run.sh
# callers answered by their own 100 ms looks while the acknowledger is
# stopped (SIGSTOP), none counted as a lost wake-up (test/wakeup/run.sh)
wakeup-test: all install
	bash test/wakeup/run.sh
ha-test: all install
	bash test/ha/run.sh
# pgBackRest: full/incremental backups to both repositories, verify, and a
# point-in-time restore from repo2 (test/dr/run.sh)
dr-test: all install
	bash test/dr/run.sh
# Region drill: region B's standby cluster follows region A; all of region
# A is SIGKILLed; region B is promoted; RPO/RTO measured (test/dr/drill.sh).
# EXCHANGE_B_STREAM=0: region B follows from the archive only.
dr-drill: all install
	bash test/dr/drill.sh
bench: all install $(CORE_BIN)/bench_core $(CORE_BIN)/wakeup_probe $(CORE_BIN)/paced_load
	bash test/bench/run.sh
# what a wake-up of another process costs this machine (test/bench/run.sh
# prints it beside the core benchmark's speed)
$(CORE_BIN)/wakeup_probe: test/bench/wakeup_probe.c
	@mkdir -p $(CORE_BIN)
	$(CORE_CC) $(CORE_BENCH_CFLAGS) -o $@ $<
# the paced runs' load: warm pooled connections, Poisson arrivals
# (test/bench/run.sh uses it for the p99 target)
$(CORE_BIN)/paced_load: test/bench/paced_load.c
	@mkdir -p $(CORE_BIN)
	$(CORE_CC) $(CORE_BENCH_CFLAGS) -I$(shell $(PG_CONFIG) --includedir) -o $@ $< -L$(shell $(PG_CONFIG) --libdir) -lpq -lm
endif
