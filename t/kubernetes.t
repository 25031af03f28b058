#!/bin/sh
# SPDX-License-Identifier: ISC
# The drover.conf of etc/kubernetes.yaml's ConfigMap is one drover
# accepts (drover -n; its `user = app` and `group = app` lines, which
# name the user etc/Dockerfile creates in the image, are left out here,
# and the image's /srv/app is a scratch directory with a server.js: -n
# checks that the command can run there), and it keeps a pod ready with
# one slot down: min_ready is set, below workers.
srcdir=${abs_top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${abs_top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
drover=$builddir/supervisor/drover

echo "1..4"
if [ ! -x "$drover" ]; then
	echo "Bail out! $drover is not built"
	exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/drover-k8s.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

# The block scalar after "drover.conf: |", four spaces deeper.
awk '/^  drover.conf: \|$/ { on = 1; next }
    on && /^    / { sub(/^    /, ""); print; next }
    on && /^ *$/ { print ""; next }
    on { exit }' "$srcdir/etc/kubernetes.yaml" >"$tmp/all.conf"
mkdir "$tmp/app" && : >"$tmp/app/server.js" || exit 1
grep -v '^user = app$' "$tmp/all.conf" | grep -v '^group = app$' |
    sed "s|/srv/app|$tmp/app|g" >"$tmp/drover.conf"
if grep -q '^command = ' "$tmp/drover.conf"; then
	echo "ok 1 - etc/kubernetes.yaml has a ConfigMap with a drover.conf"
else
	echo "not ok 1 - etc/kubernetes.yaml has a ConfigMap with a drover.conf"
	fail=1
fi

out=$("$drover" -n -s "$tmp/state" -c "$tmp/drover.conf" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
	echo "ok 2 - drover -n accepts it"
else
	echo "not ok 2 - drover -n accepts it (exit $rc)"
	printf '%s\n' "$out" | sed 's/^/# /'
	fail=1
fi

workers=$(printf '%s\n' "$out" | sed -n 's/^workers = //p')
min=$(printf '%s\n' "$out" | sed -n 's/^min_ready = //p')
if [ -n "$min" ] && [ "$min" -gt 0 ]; then
	echo "ok 3 - it sets min_ready ($min)"
else
	echo "not ok 3 - it sets min_ready (${min:-unset})"
	fail=1
fi
if [ -n "$min" ] && [ -n "$workers" ] && [ "$min" -lt "$workers" ]; then
	echo "ok 4 - min_ready $min < workers $workers:" \
	    "one slot down keeps the pod ready"
else
	echo "not ok 4 - min_ready ${min:-unset} < workers ${workers:-unset}"
	fail=1
fi
exit $fail
