/*
 * fault_fdatasync.c - an LD_PRELOAD shim for tests/api/test_sync_failure.py: while the
 * file named by $FF_FAULT_FDATASYNC exists, fdatasync() of a file whose name ends in
 * "-wal" fails with EIO (the disk refused); otherwise it is the real one. Lets a test
 * reach the group-commit syncer's failure path without a failing disk.
 *
 * Build: cc -shared -fPIC -o fault_fdatasync.so fault_fdatasync.c -ldl
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int is_wal(int fd)
{
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n < 4)
		return 0;
	path[n] = '\0';
	return !strcmp(path + n - 4, "-wal");
}

int fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	const char *flag = getenv("FF_FAULT_FDATASYNC");
	if (flag && access(flag, F_OK) == 0 && is_wal(fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}
