// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * smem_version() and smem_version_check(): the version of the library
 * that runs, which a program built against other headers can ask for.
 *
 * Both answer from the macros this file was compiled with (smem.h and the
 * smem/version.h made from VERSION), so they describe the library, never
 * the caller's headers.  The rule of smem_version_check() is the one
 * SMEM_VERSION_CHECK() applies to the headers: the same major version, at
 * least the minor asked for.  A different major is refused both ways: the
 * major version changes when the API breaks, so a newer major does not
 * promise an older one's API.  Neither call makes a system call, so errno
 * is left alone without SMEM_KEEP_ERRNO.
 */
#include "internal.h"

SMEM_EXPORT const char *smem_version(void)
{
	return SMEM_VERSION;
}

SMEM_EXPORT int smem_version_check(unsigned int major, unsigned int minor)
{
	if (major != SMEM_VERSION_MAJOR || minor > SMEM_VERSION_MINOR)
		return -ENOTSUP;
	return 0;
}
