#!/bin/sh
# regress/e2e/examples.sh: every vm.conf example in the documentation must
# be accepted by "vmd -n".  Examples are the .Bd -literal blocks of
# share/man/man5/vm.conf.5 and the ```-fenced blocks of README.md whose
# first statement is a vm.conf statement (vm, switch, include, a global
# setting or a macro), and etc/vm.conf.  In the EXAMPLES section of the
# man page, each block is checked together with the ones before it, as a
# reader would combine them (an instance needs its parent).  Absolute
# paths are moved under a scratch directory where the files are created,
# and users or groups that do not exist here become root, since the
# parser checks both.  Prints one PASS/FAIL line per example; it never
# starts a VM and writes only in its scratch directory.
cd "$(dirname "$0")/../.." || exit 1
VMD=${VMD:-usr.sbin/vmd/vmd}
LC_ALL=C
export LC_ALL

if [ ! -x "$VMD" ]; then
	echo "FAIL examples: no vmd binary at $VMD (run make first)"
	exit 1
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
root="$tmp/root"
mkdir -p "$root" "$tmp/blk"

# Writes each block to $tmp/blk/N and "N SOURCE:LINE CUMULATIVE" to the
# index, CUMULATIVE being 1 for blocks of the man page's EXAMPLES.
awk -v dir="$tmp/blk" '
FNR == 1 { sect = ""; inblk = 0 }
FILENAME ~ /\.5$/ && /^\.Sh / { sect = $2 }
FILENAME ~ /\.5$/ && /^\.Bd -literal/ {
	n++; inblk = 1; out = dir "/" n
	print n, FILENAME ":" FNR, (sect == "EXAMPLES") > (dir "/index")
	printf "" > out
	next
}
FILENAME ~ /\.5$/ && inblk && /^\.Ed/ { inblk = 0; close(out); next }
FILENAME ~ /\.5$/ && inblk {
	line = $0
	gsub(/\\&/, "", line)
	gsub(/\\e/, "\\", line)
	print line > out
	next
}
FILENAME ~ /\.md$/ && /^```/ {
	if (!inblk) {
		n++; inblk = 1; out = dir "/" n
		print n, FILENAME ":" FNR, 0 > (dir "/index")
		printf "" > out
	} else {
		inblk = 0; close(out)
	}
	next
}
FILENAME ~ /\.md$/ && inblk { print > out }
' share/man/man5/vm.conf.5 README.md
n=$(($(wc -l <"$tmp/blk/index") + 1))
echo "$n etc/vm.conf:1 0" >>"$tmp/blk/index"
cp etc/vm.conf "$tmp/blk/$n"

first='^(vm|switch|include|local|socket|agentx|staggered)[[:space:]]'
macro='^[A-Za-z0-9_]+[[:space:]]*='
is_config() {
	grep -v '^[[:space:]]*#' "$1" | grep -v '^[[:space:]]*$' | head -1 |
	    grep -Eq "$first|$macro"
}

# Absolute paths, quoted or not, go under $root, and exist there.
relocate() {
	sed -E -e "s|\"/|\"$root/|g" \
	    -e "s|([[:space:]])/([^[:space:]\"]*)|\\1$root/\\2|g" "$1" >"$2"
	grep -Eo "$root/[^\"[:space:]]*" "$2" | sort -u | while read -r f; do
		mkdir -p "$(dirname "$f")" && touch "$f"
	done
}

# owner and socket owner name users and groups that must exist.
fix_owners() {
	grep -Eo 'owner[[:space:]]+[^[:space:],;}]+' "$1" | sort -u |
	while read -r _ spec; do
		user=${spec%%:*}
		group=""
		case $spec in *:*) group=${spec#*:} ;; esac
		nuser=$user ngroup=$group
		case $user in
		''|*[!0-9]*)
			[ -n "$user" ] && ! getent passwd "$user" >/dev/null &&
			    nuser=root ;;
		esac
		case $group in
		''|*[!0-9]*)
			[ -n "$group" ] && ! getent group "$group" >/dev/null &&
			    ngroup=root ;;
		esac
		new=$nuser
		case $spec in *:*) new="$nuser:$ngroup" ;; esac
		end='([[:space:],;}]|$)'
		[ "$new" = "$spec" ] || sed -i -E \
		    "s/owner([[:space:]]+)$spec$end/owner\\1$new\\2/" "$1"
	done
}

: >"$tmp/acc"
checked=0
while read -r i where cumulative; do
	is_config "$tmp/blk/$i" || continue
	checked=$((checked + 1))
	if [ "$cumulative" = 1 ]; then
		cat "$tmp/blk/$i" >>"$tmp/acc"
		src="$tmp/acc"
	else
		src="$tmp/blk/$i"
	fi
	relocate "$src" "$tmp/test.conf"
	fix_owners "$tmp/test.conf"
	"$VMD" -n -f "$tmp/test.conf" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && tail -n 1 "$tmp/out" | grep -qx "configuration OK"
	then
		echo "PASS examples.$where"
	else
		echo "FAIL examples.$where: vmd -n exited $rc:"
		sed 's/^/    /' "$tmp/out" | head -10
		sed 's/^/    | /' "$tmp/test.conf" | head -30
	fi
done <"$tmp/blk/index"
if [ "$checked" -lt 5 ]; then
	echo "FAIL examples: only $checked examples found (extraction broken?)"
fi
