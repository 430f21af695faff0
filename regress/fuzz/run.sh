#!/bin/sh
# run.sh: the fuzz targets as regression tests: each replays its corpus
# and then runs a short, seeded (so repeatable) session.  A crash, a
# sanitizer report or a leak fails it.  Longer runs: see regress/fuzz/README.
cd "$(dirname "$0")" || exit 1
for f in *_fuzzer; do
	[ -x "$f" ] || continue
	name=${f%_fuzzer}
	corpus=corpus/$name
	[ -d "$corpus" ] || corpus=
	# new inputs go to a scratch directory, never into the repo
	scratch=$(mktemp -d)
	log=$scratch.log
	if ./"$f" -seed=1 -runs=3000 -max_len=4096 "$scratch" $corpus \
	    >"$log" 2>&1; then
		echo "PASS fuzz.$name"
	else
		echo "FAIL fuzz.$name: $(grep -m1 -E 'ERROR|runtime error|deadly' "$log")"
		tail -n 30 "$log"
	fi
	rm -rf "$log" "$scratch"
done
