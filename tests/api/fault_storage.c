/*
 * fault_storage.c - an LD_PRELOAD shim for tests/api/test_storage_failure.py: while the
 * file named by $FF_FAULT_STORAGE exists, every write to a file whose path starts with
 * $FF_FAULT_PREFIX (the database, its -wal, its -shm) fails with the errno named by
 * $FF_FAULT_ERRNO ("ENOSPC": the disk is full; "EROFS": the file system went read-only);
 * otherwise the real call runs. Lets a test take the storage away under a running
 * server and give it back, without mounting anything.
 *
 * Build: cc -shared -fPIC -o fault_storage.so fault_storage.c -ldl
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
#include <sys/types.h>
#include <unistd.h>

static int failing(int fd)
{
	const char *flag = getenv("FF_FAULT_STORAGE");
	const char *prefix = getenv("FF_FAULT_PREFIX");
	if (!flag || !prefix || access(flag, F_OK) != 0)
		return 0;
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	if (strncmp(path, prefix, strlen(prefix)) != 0)
		return 0;
	const char *name = getenv("FF_FAULT_ERRNO");
	errno = name && !strcmp(name, "EROFS") ? EROFS : ENOSPC;
	return 1;
}

#define REAL(name, ret, ...) \
	static ret (*real_##name)(__VA_ARGS__); \
	if (!real_##name) \
		real_##name = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(write, ssize_t, int, const void *, size_t);
	return failing(fd) ? -1 : real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite, ssize_t, int, const void *, size_t, off_t);
	return failing(fd) ? -1 : real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite64, ssize_t, int, const void *, size_t, off_t);
	return failing(fd) ? -1 : real_pwrite64(fd, buf, n, off);
}

int ftruncate(int fd, off_t len)
{
	REAL(ftruncate, int, int, off_t);
	return failing(fd) ? -1 : real_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len)
{
	REAL(ftruncate64, int, int, off_t);
	return failing(fd) ? -1 : real_ftruncate64(fd, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	REAL(fallocate, int, int, int, off_t, off_t);
	return failing(fd) ? -1 : real_fallocate(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
	REAL(posix_fallocate, int, int, off_t, off_t);
	if (failing(fd))
		return errno;
	return real_posix_fallocate(fd, off, len);
}
