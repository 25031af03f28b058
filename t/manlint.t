#!/bin/sh
# SPDX-License-Identifier: ISC
# The manual pages pass mandoc -Tlint -Wwarning, and every option the
# master and droverctl accept, every key the master knows and every
# variable node/drover.js reads is documented.
srcdir=${abs_top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
MANDOC=${MANDOC:-mandoc}
if ! command -v "$MANDOC" >/dev/null 2>&1; then
	echo "Bail out! mandoc is needed (Debian: mandoc)"
	exit 1
fi
pages="drover.8 droverctl.8 drover.conf.5 libdrover.3 drover-migrate.7"
# The keys come from their one table, config_keys[] in supervisor/config.c,
# where each is a line: a tab, KEY_<KIND>( and the quoted name.
keys=$(sed -n 's/^	KEY_[A-Z]*("\([a-z_]*\)",.*/\1/p' \
    "$srcdir/supervisor/config.c")
if [ -z "$keys" ]; then
	echo "Bail out! no keys found in supervisor/config.c"
	exit 1
fi
opts="--config --workers --listen --state-dir --pidfile --ready
--stop-timeout --check --debug --version --help"
ctlopts="--config --state-dir --pidfile --pid --timeout --json --help --version"
nodevars=$(sed -n "s/.*process\.env\.\([A-Z_]*\).*/\1/p; s/.*envInt('\([A-Z_]*\)').*/\1/p" \
    "$srcdir/node/drover.js" | sort -u)
n=0
for p in $pages; do n=$((n + 1)); done
for k in $keys $opts $ctlopts; do n=$((n + 1)); done
n=$((n + 1))
for v in $nodevars; do n=$((n + 1)); done
echo "1..$n"
i=0
fail=0
for p in $pages; do
	i=$((i + 1))
	out=$("$MANDOC" -Tlint -Wwarning "$srcdir/man/$p" 2>&1)
	if [ -z "$out" ]; then
		echo "ok $i - $p is mandoc -Tlint -Wwarning clean"
	else
		echo "not ok $i - $p is mandoc -Tlint -Wwarning clean"
		echo "$out" | sed 's/^/# /'
		fail=1
	fi
done
for k in $keys; do
	i=$((i + 1))
	if grep -q "^\.It Cm $k " "$srcdir/man/drover.conf.5"; then
		echo "ok $i - drover.conf(5) documents $k"
	else
		echo "not ok $i - drover.conf(5) documents $k"
		fail=1
	fi
done
for o in $opts; do
	i=$((i + 1))
	name=${o#--}
	if grep -q "Fl \\(-\\|\\\\-\\)$name\\b\\|Fl -$name" "$srcdir/man/drover.8"; then
		echo "ok $i - drover(8) documents $o"
	else
		echo "not ok $i - drover(8) documents $o"
		fail=1
	fi
done
for o in $ctlopts; do
	i=$((i + 1))
	if grep -q "Fl \\\\-${o#--}\\b" "$srcdir/man/droverctl.8"; then
		echo "ok $i - droverctl(8) documents $o"
	else
		echo "not ok $i - droverctl(8) documents $o"
		fail=1
	fi
done
i=$((i + 1))
if [ -n "$nodevars" ]; then
	echo "ok $i - node/drover.js reads variables: $(echo $nodevars)"
else
	echo "not ok $i - node/drover.js reads variables"
	fail=1
fi
for v in $nodevars; do
	i=$((i + 1))
	if grep -q "^\.It Ev .*\b$v\b" "$srcdir/man/drover-migrate.7"; then
		echo "ok $i - drover-migrate(7) documents $v"
	else
		echo "not ok $i - drover-migrate(7) documents $v"
		fail=1
	fi
done
exit $fail
