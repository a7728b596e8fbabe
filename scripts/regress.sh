#!/usr/bin/env bash
# Run the pg_regress suite (sql/*.sql against expected/*.out) in its own
# temporary instance.  PostgreSQL refuses to run as root, so as root the
# inputs are copied to a directory the postgres user owns and run there.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
pgxs=$(dirname "$("$PG_CONFIG" --pgxs)")/..
regress="$pgxs/test/regress/pg_regress"
tests=$(sed -n 's/^REGRESS = //p' Makefile)

work=$(mktemp -d /tmp/exchange-regress.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r sql expected "$work/"
cp test/regress.conf "$work/"
chown -R postgres: "$work" 2>/dev/null || true

status=0
cd "$work"
run=(env PATH="$PATH" "$regress" --bindir="$("$PG_CONFIG" --bindir)"
	--temp-instance=./tmp_check --temp-config=./regress.conf
	--inputdir=. --dbname=contrib_regression $tests)
if [ "$(id -u)" -eq 0 ]; then
	setpriv --reuid=postgres --regid=postgres --init-groups \
		env HOME=/var/lib/postgresql "${run[@]}" || status=$?
else
	"${run[@]}" || status=$?
fi
if [ $status -ne 0 ]; then
	cat regression.diffs 2>/dev/null || true
	mkdir -p "$OLDPWD/results"
	cp -r results/. "$OLDPWD/results/" 2>/dev/null || true
	cp regression.diffs "$OLDPWD/" 2>/dev/null || true
fi
exit $status
