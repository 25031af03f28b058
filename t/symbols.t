#!/bin/sh
# SPDX-License-Identifier: ISC
# libdrover's ABI, read from the built shared library: every symbol it
# exports starts with drover_ and is declared in drover.h, every function
# drover.h declares is exported, and the SONAME is libdrover.so.0.  The
# tree is found through $abs_top_builddir and $abs_top_srcdir (make check
# exports them), else it is the directory above this script's.
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
builddir=${abs_top_builddir:-$top}
srcdir=${abs_top_srcdir:-$top}
lib=$builddir/worker-api/.libs/libdrover.so
header=$srcdir/worker-api/drover.h
soname=libdrover.so.0

if ! command -v nm >/dev/null 2>&1; then
	echo "1..0 # SKIP nm is needed (Debian: binutils)"
	exit 0
fi
if [ ! -f "$lib" ]; then
	echo "1..0 # SKIP no shared library at $lib (--disable-shared?)"
	exit 0
fi
if [ ! -r "$header" ]; then
	echo "Bail out! cannot read $header"
	exit 1
fi

# Defined dynamic symbols: "address type name", or "type name" for
# absolute ones without an address.
exported=$(nm -D --defined-only "$lib" | awk 'NF >= 2 { print $NF }' |
    sort -u)
declared=$(grep -o 'drover_[a-z_]*(' "$header" | sed 's/($//' | sort -u)
if [ -z "$declared" ]; then
	echo "Bail out! no function found in $header"
	exit 1
fi

n=3
for f in $declared; do n=$((n + 1)); done
echo "1..$n"
. "$here/tap.sh"

bad=$(echo "$exported" | grep -v '^drover_' | grep -v '^$')
report "$([ -z "$bad" ]; echo $?)" \
    "every exported symbol starts with drover_" \
    "unprefixed exports:" $bad

extra=
for s in $exported; do
	echo "$declared" | grep -qx "$s" || extra="$extra $s"
done
report "$([ -z "$extra" ]; echo $?)" \
    "every exported symbol is declared in drover.h" \
    "exported, not declared:$extra"

for f in $declared; do
	echo "$exported" | grep -qx "$f"
	report $? "$f is exported" "$f is declared in drover.h, not exported"
done

if command -v objdump >/dev/null 2>&1; then
	got=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
elif command -v readelf >/dev/null 2>&1; then
	got=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
else
	got="(neither objdump nor readelf found)"
fi
report "$([ "$got" = "$soname" ]; echo $?)" \
    "the SONAME is $soname" "SONAME: $got"
exit $fail
