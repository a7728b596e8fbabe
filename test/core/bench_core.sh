#!/bin/sh
# Run the core microbenchmark twice: natively (best CPU time of several
# repeats: orders/s, ns/order) and, shorter, under callgrind, which counts
# the instructions executed in the timed loop alone (BenchTimed) and so
# gives a figure that does not depend on what else the machine is doing.
# Ends with one line:
#   core-bench: orders_per_s=X ns_per_order=Y bytes_per_order=Z instr_per_order=W
#
# Usage: bench_core.sh BENCH_BINARY [operations [seed [repeats [book]]]]
# CORE_CALLGRIND_OPS: operations of the callgrind run (default 200000).
set -e

bin=$1
shift
seed=${2:-0}
book=${4:-}
cg_ops=${CORE_CALLGRIND_OPS:-200000}
out=$(dirname "$bin")/callgrind.out

"$bin" "$@" > "$out.native"
head -n -1 "$out.native"
line=$(tail -n 1 "$out.native")

instr=NA
if command -v valgrind > /dev/null 2>&1; then
	rm -f "$out"
	valgrind --tool=callgrind --toggle-collect=BenchTimed \
		--callgrind-out-file="$out" "$bin" "$cg_ops" "$seed" 1 $book \
		> /dev/null 2> "$out.log" || { cat "$out.log"; exit 1; }
	total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out")
	[ -n "$total" ] || total=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out")
	instr=$(awk -v t="$total" -v n="$cg_ops" 'BEGIN { printf "%.0f", t / n }')
	echo "core-bench: callgrind: $total instructions in $cg_ops operations" \
		"(callgrind_annotate $out)"
else
	echo "core-bench: valgrind is not installed: no instruction count"
fi
echo "$line instr_per_order=$instr"
