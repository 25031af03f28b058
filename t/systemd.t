#!/bin/sh
# SPDX-License-Identifier: ISC
# The systemd units in etc/ (the template as an instance) pass
# systemd-analyze verify (with ExecStart pointing at the drover just
# built, so that verify finds an executable), and etc/drover.conf is a configuration drover accepts.  On systemd older
# than 253, which knows neither Type=notify-reload nor ReloadSignal=,
# verify's two complaints about exactly those are expected for
# etc/drover-reload.service; anything else is an error.
srcdir=${abs_top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${abs_top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
drover=$builddir/supervisor/drover

echo "1..7"
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "Bail out! systemd-analyze is needed (Debian: systemd)"
	exit 1
fi
if [ ! -x "$drover" ]; then
	echo "Bail out! $drover is not built"
	exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/drover-systemd.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
version=$(systemd-analyze --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
echo "# systemd-analyze of systemd ${version:-unknown}"
for u in drover.service drover-reload.service drover.socket drover@.service; do
	sed "s|/usr/local/sbin/drover|$drover|g" "$srcdir/etc/$u" >"$tmp/$u" ||
		exit 1
done

fail=0
i=0
# verify: unit file, and the lines of its output to accept (a regex, or
# nothing).
verify() {
	i=$((i + 1))
	# --man=no: the manual pages are not installed while testing.
	out=$(cd "$tmp" && systemd-analyze verify --man=no "$tmp/$1" 2>&1)
	rc=$?
	left=$out
	if [ -n "$2" ] && [ -n "$out" ]; then
		left=$(printf '%s\n' "$out" | grep -Ev "$2")
	fi
	if [ $rc -eq 0 ] && [ -z "$left" ]; then
		echo "ok $i - systemd-analyze verify $1"
	else
		echo "not ok $i - systemd-analyze verify $1 (exit $rc)"
		fail=1
	fi
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
}

verify drover.service ""
if [ -n "$version" ] && [ "$version" -lt 253 ]; then
	verify drover-reload.service \
	    "Failed to parse service type, ignoring: notify-reload|Unknown key( name)? '?ReloadSignal'?"
else
	verify drover-reload.service ""
fi
verify drover.socket ""
# The template, as an instance.
ln -s drover@.service "$tmp/drover@shop.service" || exit 1
verify drover@shop.service ""

i=$((i + 1))
if grep -q '^FileDescriptorName=http$' "$srcdir/etc/drover.socket" &&
    grep -q '^listen = http=:8080' "$srcdir/etc/drover.conf"; then
	echo "ok $i - the socket's FileDescriptorName= names a listen entry of drover.conf"
else
	echo "not ok $i - the socket's FileDescriptorName= names a listen entry of drover.conf"
	fail=1
fi

i=$((i + 1))
out=$("$drover" -n -c "$srcdir/etc/drover.conf" -s "$tmp/state" 2>&1)
rc=$?
# The example's command and directory (/usr/bin/node, /srv/app) are those
# of a deployment, which -n also checks: their absence here is no fault
# of the file, anything else is.
others=$(printf '%s\n' "$out" | grep '^drover\[' |
    grep -Ev 'drover\.conf:[0-9]+: (command: /usr/bin/node|directory = /srv/app): No such file or directory$')
if [ $rc -eq 0 ] || { [ $rc -eq 78 ] && [ -z "$others" ]; }; then
	echo "ok $i - drover -n accepts etc/drover.conf"
else
	echo "not ok $i - drover -n accepts etc/drover.conf (exit $rc)"
	printf '%s\n' "$out" | sed 's/^/# /'
	fail=1
fi

i=$((i + 1))
if printf '%s\n' "$out" | grep -q '^health = 127.0.0.1:9090$' &&
    printf '%s\n' "$out" | grep -q '^output = prefix$' &&
    printf '%s\n' "$out" | grep -q '^ready = notify$'; then
	echo "ok $i - with the health endpoint, output = prefix and ready = notify"
else
	echo "not ok $i - with the health endpoint, output = prefix and ready = notify"
	fail=1
fi
exit $fail
