# SPDX-License-Identifier: ISC
# The TAP reporting of the shell tests, sourced by them after they print
# their plan: report() prints one test line and, when it failed, its
# diagnostics; $fail is 1 once any failed, for the script's exit status.
i=0
fail=0

# report OK DESCRIPTION [DIAGNOSTIC...]: one test line, diagnostics after.
report() {
	i=$((i + 1))
	result=$1
	shift
	if [ "$result" = 0 ]; then
		echo "ok $i - $1"
	else
		echo "not ok $i - $1"
		fail=1
		shift
		for d in "$@"; do
			echo "# $d"
		done
	fi
}
