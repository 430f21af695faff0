#!/bin/sh
# regress/config/run.sh: golden tests of the vm.conf(5) parser.  For each
# NAME.conf here, runs "vmd -n [args] -f NAME.conf" from this directory
# (NAME.args holds extra arguments such as -D macros) and compares its
# stdout and stderr with NAME.ok, and checks that the exit status is 0
# exactly when the output ends in "configuration OK".  Then parses a
# generated file of 10 000 VMs, and checks vmd's own option errors.
# Prints "PASS config.NAME" or
# "FAIL config.NAME: ..." per case.  With -r it rewrites every NAME.ok
# from the current output instead (review the diff before committing).
# It writes nothing in the tree but the .ok files in -r mode; it never
# starts a VM.  VMD may name another vmd binary.
cd "$(dirname "$0")" || exit 1
VMD=${VMD:-../../usr.sbin/vmd/vmd}
LC_ALL=C
export LC_ALL
regen=0
[ "$1" = "-r" ] && regen=1

if [ ! -x "$VMD" ]; then
	echo "FAIL config: no vmd binary at $VMD (run make first)"
	exit 1
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

here=$(pwd -P)
for conf in *.conf; do
	name=${conf%.conf}
	args=""
	[ -f "$name.args" ] && args=$(cat "$name.args")
	# shellcheck disable=SC2086
	"$VMD" -n $args -f "$conf" >"$tmp/raw" 2>&1
	rc=$?
	# resolved paths name this checkout; the .ok files say @HERE@
	sed "s|$here|@HERE@|g" "$tmp/raw" >"$tmp/out"
	if [ "$regen" -eq 1 ]; then
		cp "$tmp/out" "$name.ok"
		continue
	fi
	if [ ! -f "$name.ok" ]; then
		echo "FAIL config.$name: no $name.ok (run.sh -r writes it)"
		continue
	fi
	if ! diff -u "$name.ok" "$tmp/out" >"$tmp/diff" 2>&1; then
		echo "FAIL config.$name: output differs from $name.ok:"
		sed 's/^/    /' "$tmp/diff" | head -40
		continue
	fi
	if tail -n 1 "$tmp/out" | grep -qx "configuration OK"; then
		want=0
	else
		want=1
	fi
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL config.$name: exit status $rc, expected $want"
		continue
	fi
	echo "PASS config.$name"
done
[ "$regen" -eq 1 ] && exit 0

# 10 000 VMs in one file: all accepted, and quickly (the bound is loose
# so that a sanitizer build passes too; bench/conf_bench.sh measures).
kernel="$(pwd)/data/bsd"
awk -v k="$kernel" 'BEGIN {
	for (i = 0; i < 10000; i++)
		printf "vm \"vm%d\" {\n\tmemory 64M\n\tboot \"%s\"\n" \
		    "\tdisable\n}\n", i, k
}' >"$tmp/many.conf"
start=$(date +%s%N)
"$VMD" -n -f "$tmp/many.conf" >"$tmp/out" 2>&1
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$rc" -ne 0 ] || [ "$(cat "$tmp/out")" != "configuration OK" ]; then
	echo "FAIL config.many_vms: status $rc: $(head -3 "$tmp/out")"
elif [ "$ms" -gt 10000 ]; then
	echo "FAIL config.many_vms: took $ms ms for 10000 VMs"
else
	echo "PASS config.many_vms ($ms ms)"
fi

# The same 10 000 plus one duplicate at the end: found, with its line.
printf 'vm "vm42" {\n\tboot "%s"\n}\n' "$kernel" >>"$tmp/many.conf"
"$VMD" -n -f "$tmp/many.conf" >"$tmp/out" 2>&1
rc=$?
want="$tmp/many.conf:50001: duplicate vm name \"vm42\" (first on line 211)"
if [ "$rc" -eq 1 ] && [ "$(cat "$tmp/out")" = "$want" ]; then
	echo "PASS config.many_vms_duplicate"
else
	echo "FAIL config.many_vms_duplicate: status $rc: $(head -3 "$tmp/out")"
fi

# A missing file named with -f is an error, not an empty config.
"$VMD" -n -f "$tmp/nonexistent.conf" >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q "nonexistent.conf" "$tmp/out"; then
	echo "PASS config.missing_file"
else
	echo "FAIL config.missing_file: status $rc: $(head -3 "$tmp/out")"
fi

# vmd's own command line: its complaints name vmd, and options end at the
# first operand (no GNU reordering).
usage="usage: vmd [-dnv] [-D macro=value] [-f file] [-s socket]"
vmd_cli() {	# name, expected output, arguments...
	name=$1 want=$2
	shift 2
	"$VMD" "$@" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && [ "$(cat "$tmp/out")" = "$want" ]; then
		echo "PASS config.$name"
	else
		echo "FAIL config.$name: status $rc: $(head -3 "$tmp/out")"
	fi
}
vmd_cli cli_unknown "vmd: unknown option -- x
$usage" -x
vmd_cli cli_noarg "vmd: option requires an argument -- f
$usage" -n -f
vmd_cli cli_operand "$usage" -n -f empty.conf extra
vmd_cli cli_after_operand "$usage" -n extra -f empty.conf
