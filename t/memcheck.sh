#!/bin/sh
# SPDX-License-Identifier: ISC
# make check-valgrind's two halves.
#
# As the test library's TL_DAEMON_WRAPPER, `memcheck.sh LOGDIR VALGRIND
# DROVER ARGS...` runs one master under valgrind's memcheck in place
# (exec: the pid the test watches and signals is the master's).  All it
# needs is in its arguments, since some wrappers before it pass no
# environment (systemd-socket-activate).  The log goes to
# LOGDIR/TEST.PID.STAMP.log, TEST being the program that started the
# wrapper (its parent; "drover" where that is out of sight, in another
# pid namespace) and STAMP the time, since a pid alone may come again
# (in a pid namespace every master is 1).  The shell opens it on
# descriptor 9 for --log-fd, which valgrind moves out of the master's
# way; valgrind 3.19 leaves a file of --log-file open on the lowest free
# descriptor, where the master would find it (as a stray descriptor 3,
# or on 0 when started with standard input closed).
#
# Only the master is checked: valgrind follows no execve(2)
# (--trace-children=no), so the workers, other programs, run natively;
# so do an upgrade's `drover -n` check and the image a USR2 executes
# (the same binary, whose handoff reader t/fuzz/fuzz-handoff fuzzes under
# ASan).  memcheck still watches each child the master forks up to its
# execve, in the same log (each line names its pid), which says no more
# of a child than its start once it executed.  Following the upgraded
# image would take --trace-children=yes, and valgrind can only list the
# programs not to follow: every worker of every test.
#
# `memcheck.sh --judge LOGDIR` then reads every log: one with an error or
# a definite leak (a stack, `at 0x...`), or with an ERROR SUMMARY of
# more than 0, fails and is shown.  The stack valgrind prints for a
# process that a signal sent to it ended (TERM, KILL, INT, HUP, QUIT,
# PIPE, USR1, USR2, ALRM: the tests send them) is no error; one ended by
# SEGV, BUS, ABRT and the like is.  Indirect, possible and still
# reachable memory does not count: a master that exits holds its
# configuration, and valgrind checks leaks only at exit, not at an
# execve.
#
# Suppressions, each with its reason, are in memcheck.supp beside this
# script.
here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" = --judge ]; then
	dir=${2:?"usage: memcheck.sh --judge LOGDIR"}
	nlogs=0
	nbad=0
	sent="SIGTERM|SIGKILL|SIGINT|SIGHUP|SIGQUIT|SIGPIPE|SIGUSR1|SIGUSR2"
	sent="$sent|SIGALRM"
	for f in "$dir"/*.log; do
		[ -e "$f" ] || continue
		nlogs=$((nlogs + 1))
		if awk -v sent="$sent" '
		    { pid = $1 }
		    $0 ~ "Process terminating with default action of " \
			"signal [0-9]+ \\((" sent ")\\)" {
			killed[pid] = 1; next
		    }
		    /^==[0-9]+== $/ { killed[pid] = 0; next }
		    /^==[0-9]+== +(at|by) 0x/ && !killed[pid] { bad = 1 }
		    /ERROR SUMMARY: [1-9]/ { bad = 1 }
		    END { exit !bad }' "$f"; then
			nbad=$((nbad + 1))
			echo "== $f"
			sed -n '/^==[0-9]*== Command:/,$p' "$f" | head -200
		fi
	done
	errors=$(cat "$dir"/*.log 2>/dev/null |
	    sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' |
	    awk '{ n += $1 } END { print n + 0 }')
	echo "memcheck: $nlogs masters logged in $dir, $nbad with errors" \
	    "($errors counted in the summaries of the processes that exited)"
	[ "$nlogs" -gt 0 ] || { echo "memcheck: no log at all" >&2; exit 1; }
	[ "$nbad" -eq 0 ]
	exit
fi

if [ $# -lt 3 ]; then
	echo "usage: memcheck.sh LOGDIR VALGRIND DROVER [ARG...]" \
	    "| --judge LOGDIR" >&2
	exit 2
fi
dir=$1
valgrind=$2
shift 2
test=$(cat "/proc/$PPID/comm" 2>/dev/null) || test=
if [ -e "/proc/$$/fd/9" ]; then
	echo "memcheck.sh: descriptor 9, for the log, is in use" >&2
	exit 2
fi
exec 9>"$dir/${test:-drover}.$$.$(date +%s%N).log"
exec "$valgrind" --tool=memcheck --trace-children=no --error-exitcode=99 \
	--leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=definite --num-callers=30 \
	--suppressions="$here/memcheck.supp" --log-fd=9 "$@"
