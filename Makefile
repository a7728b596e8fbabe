# exchange: PGXS build of the extension, plus the project's test and bench
# targets.  `make && make install` builds against postgresql-server-dev-15.

EXTENSION = exchange
MODULE_big = exchange
CORE_OBJS = src/core/fixed.o src/core/core.o src/core/balances.o \
	src/core/book.o src/core/match.o
OBJS = src/exchange.o src/guc.o src/shmem.o src/mailbox.o src/engine.o \
	src/apply.o src/persist.o src/rebuild.o src/requests.o src/status.o \
	$(CORE_OBJS)
DATA = sql/exchange--1.0.sql

REGRESS = setup errors trading idempotency privileges
REGRESS_OPTS = --temp-instance=tmp_check --temp-config=test/regress.conf \
	--load-extension=exchange
EXTRA_CLEAN = tmp_check results regression.diffs regression.out

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers -Wno-cast-function-type

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

-include test/core/core.mk
