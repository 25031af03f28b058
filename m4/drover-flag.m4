dnl SPDX-License-Identifier: ISC
dnl DROVER_FLAG_ADD(VARIABLE, FLAG, [cc|ld])
dnl
dnl Append FLAG to the shell variable VARIABLE when the compiler takes it:
dnl a program is compiled and linked with FLAG added to CFLAGS (cc) or to
dnl LDFLAGS (ld), after the user's flags and the HARDEN_* flags accepted
dnl so far, so that each flag is tried with those it will be used with
dnl (-pie after -fPIE, say).  -Werror turns a warning into a refusal, as
dnl --fatal-warnings does for the linker: clang only warns about an option
dnl it ignores, GNU ld about a -z keyword.  The user's CFLAGS and LDFLAGS
dnl are left as they were.
AC_DEFUN([DROVER_FLAG_ADD], [
	AS_VAR_PUSHDEF([drover_cv], [drover_cv_flag_$2])
	AC_CACHE_CHECK([whether $CC accepts $2], [drover_cv], [
		drover_save_CFLAGS=$CFLAGS
		drover_save_LDFLAGS=$LDFLAGS
		CFLAGS="$CFLAGS $HARDEN_CFLAGS -Werror"
		LDFLAGS="$LDFLAGS $HARDEN_LDFLAGS $HARDEN_PIE"
		m4_if([$3], [ld], [LDFLAGS="$LDFLAGS -Wl,--fatal-warnings $2"],
		    [CFLAGS="$CFLAGS $2"])
		dnl A local array, for the stack protector to guard.
		AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <stdio.h>]],
		    [[char b[16];
		    return snprintf(b, sizeof(b), "%d", 1) < 0;]])],
		    [AS_VAR_SET([drover_cv], [yes])],
		    [AS_VAR_SET([drover_cv], [no])])
		CFLAGS=$drover_save_CFLAGS
		LDFLAGS=$drover_save_LDFLAGS
	])
	AS_VAR_IF([drover_cv], [yes], [$1="$$1 $2"],
	    [AC_MSG_WARN([$CC does not take $2: no hardening from it])])
	AS_VAR_POPDEF([drover_cv])
])
