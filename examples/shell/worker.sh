#!/bin/sh
# SPDX-License-Identifier: ISC
#
# Copyright (c) 2026 The drover authors.
#
# A drover worker that is no server: a POSIX sh job-queue consumer.  It
# watches the spool directory $SPOOL (default ./spool), takes each job file
# from $SPOOL/new by renaming it to $SPOOL/work/NAME.PID (rename is atomic,
# so any number of workers share one spool and each job is taken by exactly
# one of them), "processes" it by counting its bytes, and publishes the
# result as $SPOOL/done/NAME, also by a rename, so that a reader never sees
# a partial result.  A job that a worker took and never finished (it was
# killed) stays in work/ under the name of the pid that took it.
#
# To submit a job, write it under a name starting with a dot (or in another
# directory of the same file system) and rename it into $SPOOL/new.
#
# It speaks drover's notify protocol on the stream DROVER_NOTIFY_FD, one
# line per message: READY=1, STATUS=processed N jobs, WATCHDOG=1 when
# WATCHDOG_USEC is set, STOPPING=1.  On SIGTERM or SIGINT it finishes the
# job at hand and exits 0.
#
# Run it as: SPOOL=/var/spool/jobs drover -w 4 --ready notify -- sh worker.sh

set -u

SPOOL=${SPOOL:-./spool}
stop=0
jobs=0
notify_fd=
watchdog=0

# Send one message to the master, if there is a channel.  A master that is
# gone makes the write fail (EPIPE), which must not kill us: SIGPIPE is
# ignored below.
notify() {
	[ -n "$notify_fd" ] || return 0
	echo "$1" >&"$notify_fd" || echo "worker.sh[$$]: cannot notify" >&2
}

# Take one job, if no other worker took it first, and publish its result.
run_job() {
	name=${1##*/}
	work=$SPOOL/work/$name.$$
	mv "$1" "$work" 2>/dev/null || return 0
	if wc -c <"$work" >"$SPOOL/done/.$name.$$" &&
	    mv "$SPOOL/done/.$name.$$" "$SPOOL/done/$name"; then
		rm -f "$work"
		jobs=$((jobs + 1))
		notify "STATUS=processed $jobs jobs"
	else
		echo "worker.sh[$$]: job $name failed; left in $work" >&2
	fi
}

case ${DROVER_NOTIFY_FD:-} in
'')	;;
*[!0-9]*)
	echo "worker.sh[$$]: DROVER_NOTIFY_FD \"$DROVER_NOTIFY_FD\" is not" \
	    "a descriptor" >&2
	exit 78 ;;
*)	notify_fd=$DROVER_NOTIFY_FD ;;
esac
case ${WATCHDOG_USEC:-} in
''|*[!0-9]*|0)
	;;
*)	[ "${WATCHDOG_PID:-$$}" = "$$" ] && watchdog=1 ;;
esac
unset DROVER_NOTIFY_FD WATCHDOG_USEC WATCHDOG_PID NOTIFY_SOCKET

if ! mkdir -p "$SPOOL/new" "$SPOOL/work" "$SPOOL/done"; then
	echo "worker.sh[$$]: cannot use the spool $SPOOL" >&2
	exit 78
fi

# A trapped signal only sets the flag: the job at hand is finished and
# the loop then ends.  The flag is read between jobs and after each poll.
trap 'stop=1' TERM INT
trap '' PIPE

notify READY=1
notify "STATUS=processed 0 jobs"

while [ "$stop" = 0 ]; do
	found=0
	for f in "$SPOOL"/new/*; do
		# An empty directory leaves the pattern itself.
		[ -f "$f" ] || continue
		run_job "$f"
		found=1
		[ "$watchdog" = 0 ] || notify WATCHDOG=1
		[ "$stop" = 0 ] || break
	done
	[ "$stop" = 0 ] || break
	# Every pass pings the watchdog, and a pass takes at most about a
	# second when the spool is empty (longer only while jobs run), so a
	# watchdog of 2 s or more is kept fed.
	[ "$watchdog" = 0 ] || notify WATCHDOG=1
	[ "$found" = 0 ] || continue
	# Poll again in a second.  The shell runs a trap only between
	# commands, so a foreground sleep would delay the stop by up to a
	# second; "wait" returns as soon as a trapped signal arrives.
	sleep 1 &
	sleeper=$!
	if ! wait "$sleeper" && [ "$stop" = 1 ]; then
		kill "$sleeper" 2>/dev/null
		wait "$sleeper" 2>/dev/null
	fi
done

notify STOPPING=1
notify "STATUS=stopping after $jobs jobs"
exit 0
