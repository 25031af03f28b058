#!/bin/sh
# SPDX-License-Identifier: ISC
# The master and droverctl are built hardened, as configure promises unless
# --disable-hardening: read from the binary with readelf, it is a
# position-independent executable, has a GNU_RELRO segment, binds every
# symbol at start-up (BIND_NOW) and imports the stack protector's or the
# fortified functions' checks (__stack_chk_fail, __*_chk).  It checks
# $DROVER and $DROVERCTL, else the built supervisor/drover and
# supervisor/droverctl (installcheck passes the installed ones).
# $HARDENING (make check exports configure's answer, else config.h says)
# is the one reason to skip.
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
builddir=${abs_top_builddir:-$top}
bins="${DROVER:-$builddir/supervisor/drover}
${DROVERCTL:-$builddir/supervisor/droverctl}"

if [ -z "${HARDENING:-}" ]; then
	if grep -q '^#define DROVER_HARDENING 1' "$builddir/config.h" \
	    2>/dev/null; then
		HARDENING=yes
	else
		HARDENING=no
	fi
fi
if [ "$HARDENING" = no ]; then
	echo "1..0 # SKIP configured with --disable-hardening"
	exit 0
fi
if ! command -v readelf >/dev/null 2>&1; then
	echo "Bail out! readelf is needed (Debian: binutils)"
	exit 1
fi
echo "1..8"
. "$here/tap.sh"

# check BINARY: the four properties of one binary.
check() {
	bin=$1
	if ! header=$(readelf -hW "$bin" 2>&1); then
		echo "Bail out! $bin is not an ELF file: $header"
		exit 1
	fi
	dynamic=$(readelf -dW "$bin")
	segments=$(readelf -lW "$bin")
	imports=$(readelf --dyn-syms -W "$bin" |
	    awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }')

	type=$(echo "$header" | sed -n 's/^ *Type: *\([A-Z]*\).*/\1/p')
	flags1=$(echo "$dynamic" | sed -n 's/.*(FLAGS_1) *Flags: *//p')
	flags=$(echo "$dynamic" | sed -n 's/.*(FLAGS) *//p')
	[ "$type" = DYN ] && echo " $flags1 " | grep -q ' PIE '
	report $? \
	    "$bin is a position-independent executable (-pie)" \
	    "ELF type: $type; FLAGS_1: $flags1"

	echo "$segments" | grep -q '^ *GNU_RELRO '
	report $? "$bin has a GNU_RELRO segment (-z relro)" \
	    "no GNU_RELRO among its program headers"

	{ echo " $flags " | grep -q ' BIND_NOW '; } ||
	    { echo " $flags1 " | grep -q ' NOW '; }
	report $? "$bin binds its symbols at start-up (-z now)" \
	    "FLAGS: $flags; FLAGS_1: $flags1"

	checks=$(echo "$imports" |
	    grep -E '^__(stack_chk_fail|[a-z0-9_]*_chk)$' | sort -u)
	report "$([ -n "$checks" ]; echo $?)" \
	    "$bin imports the stack protector's or fortified checks" \
	    "no __stack_chk_fail and no __*_chk among its imports"
	[ -z "$checks" ] || echo "# imported:" $checks
}

# One binary a line, so that a path may hold spaces.
echo "$bins" | { while IFS= read -r b; do check "$b"; done; exit $fail; }
exit $?
