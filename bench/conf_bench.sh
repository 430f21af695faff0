#!/bin/sh
# bench/conf_bench.sh: how long "vmd -n" takes to check a vm.conf of
# 10 000 VMs (each with memory, boot, cmdline, an interface and disable),
# as the median wall time of 5 runs, in milliseconds.  Prints one line,
# "conf_bench: 10000 vms: median N ms (runs: a b c d e)".  Writes only in
# a scratch directory it removes; starts no VM.  VMD may name another
# vmd binary; the first argument another VM count.
cd "$(dirname "$0")/.." || exit 1
VMD=${VMD:-usr.sbin/vmd/vmd}
count=${1:-10000}
if [ ! -x "$VMD" ]; then
	echo "conf_bench: no vmd binary at $VMD (run make first)" >&2
	exit 1
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/bsd"
awk -v k="$tmp/bsd" -v n="$count" 'BEGIN {
	print "mem = \"64M\""
	for (i = 0; i < n; i++)
		printf "vm \"vm%d.example.org\" {\n\tmemory $mem\n" \
		    "\tboot \"%s\"\n\tcmdline \"console=ttyS0 id=%d\"\n" \
		    "\tinterface { switch \"uplink\" }\n\tdisable\n}\n", i, k, i
}' >"$tmp/vm.conf"
runs=""
for i in 1 2 3 4 5; do
	start=$(date +%s%N)
	if ! "$VMD" -n -f "$tmp/vm.conf" >"$tmp/out" 2>&1; then
		echo "conf_bench: vmd -n failed:" >&2
		head -5 "$tmp/out" >&2
		exit 1
	fi
	runs="$runs $(( ($(date +%s%N) - start) / 1000000 ))"
done
median=$(echo $runs | tr ' ' '\n' | sort -n | sed -n 3p)
echo "conf_bench: $count vms: median $median ms (runs:$runs)"
