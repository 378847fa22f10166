/*
 * sqlite_vfs.c - a thin VFS over the system's default one that gathers the writes of a
 * WAL transaction into one pwrite.
 *
 * SQLite appends a transaction to the WAL one frame at a time, and each frame as two
 * writes: its 24-byte header, then the page. A group commit of thirty events writes
 * about 130 frames, so the event writer made some 260 pwrite calls per transaction,
 * each taking the inode lock and the page-cache work of the two file pages an
 * unaligned frame straddles: a fifth of the writer's CPU time was spent in the kernel.
 *
 * Here a WAL file keeps contiguous writes in a buffer and writes it with one call:
 * - when the frame that completes is a commit frame (its header's "database size after
 *   commit" is not zero, in the WAL file format). That happens inside the commit,
 *   before SQLite publishes the new frames in the wal-index, so no reader, in this
 *   process or another, can look for a frame that is not in the file yet;
 * - before any other operation on the file (read, sync, truncate, size, close, ...), so
 *   SQLite never sees the file without its own writes;
 * - when a write is not contiguous (a frame rewritten in place inside the buffer is
 *   copied into it), or the buffer would pass WAL_BUFFER_MAX.
 * The gathered bytes go to the default VFS's xWrite in pieces of WRITE_MAX: a handful
 * of calls per transaction instead of hundreds.
 * An error of the gathered write is returned by the call that flushed it (for a
 * commit, the write of its last frame), so the commit fails as it would have.
 *
 * Every other file (the database, its shared memory, journals) is opened directly by
 * the default VFS into the object SQLite passed in: no indirection on those paths.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/error.h"
#include "store/sqlite_vfs.h"

#define VFS_NAME "fulfill"
#define WAL_HEADER 32
#define FRAME_HEADER 24
#define WAL_BUFFER_MAX (8u << 20)
/* The unix VFS writes at most 128 KiB - 1 per call (os_unix.c, seekAndWrite: larger
 * writes fail as SQLITE_FULL), so a flush goes in pieces of this size. */
#define WRITE_MAX ((size_t)0x1f000)

struct wal_file {
	sqlite3_file base;   /* pMethods = &wal_methods */
	sqlite3_file *real;  /* the default VFS's file, just after this struct */
	unsigned char *buf;  /* writes not yet passed on, for [off, off + len) */
	size_t len, cap;
	sqlite3_int64 off;
	uint32_t page_size; /* from the WAL header; 0 until known */
};

static sqlite3_vfs *base_vfs; /* the default VFS */
static sqlite3_vfs vfs;

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int wal_flush(struct wal_file *f)
{
	int rc = SQLITE_OK;
	for (size_t at = 0; at < f->len && rc == SQLITE_OK; at += WRITE_MAX) {
		size_t n = f->len - at < WRITE_MAX ? f->len - at : WRITE_MAX;
		rc = f->real->pMethods->xWrite(f->real, f->buf + at, (int)n, f->off + (sqlite3_int64)at);
	}
	f->len = 0;
	return rc;
}

/* The page size of the WAL, from its header (buffered or in the file). */
static uint32_t wal_page_size(struct wal_file *f)
{
	if (!f->page_size) {
		unsigned char hdr[12];
		if (f->len && f->off == 0 && f->len >= sizeof(hdr))
			memcpy(hdr, f->buf, sizeof(hdr));
		else if (f->real->pMethods->xRead(f->real, hdr, sizeof(hdr), 0) != SQLITE_OK)
			return 0;
		uint32_t ps = get_be32(hdr + 8);
		f->page_size = ps == 1 ? 65536 : ps; /* 1 encodes 65536 */
	}
	return f->page_size;
}

/* Does a commit frame end within [from, to) of the file? true also when that cannot be
 * told (a frame header outside the buffer, an unknown page size): flushing is always
 * safe. */
static bool commit_ends_within(struct wal_file *f, sqlite3_int64 from, sqlite3_int64 to)
{
	if (to <= WAL_HEADER)
		return false;
	uint32_t ps = wal_page_size(f);
	if (!ps)
		return true;
	sqlite3_int64 fs = FRAME_HEADER + (sqlite3_int64)ps;
	/* frames k whose end 32 + (k + 1) * fs lies in (from, to] */
	sqlite3_int64 first = from <= WAL_HEADER ? 0 : (from - WAL_HEADER) / fs;
	for (sqlite3_int64 k = first;; k++) {
		sqlite3_int64 start = WAL_HEADER + k * fs, end = start + fs;
		if (end > to)
			return false;
		if (end <= from)
			continue;
		if (start < f->off || start + 8 > f->off + (sqlite3_int64)f->len)
			return true;
		if (get_be32(f->buf + (start - f->off) + 4) != 0)
			return true;
	}
}

static int wal_write(sqlite3_file *file, const void *data, int amt, sqlite3_int64 ofst)
{
	struct wal_file *f = (struct wal_file *)file;
	if (amt <= 0)
		return f->real->pMethods->xWrite(f->real, data, amt, ofst);
	if (f->len && ofst >= f->off && ofst + amt <= f->off + (sqlite3_int64)f->len) {
		/* a frame rewritten in place (its checksums, or a page written again) */
		memcpy(f->buf + (ofst - f->off), data, (size_t)amt);
		return SQLITE_OK;
	}
	int rc;
	if (f->len && (ofst != f->off + (sqlite3_int64)f->len || f->len + (size_t)amt > WAL_BUFFER_MAX) &&
	    (rc = wal_flush(f)) != SQLITE_OK)
		return rc;
	if ((size_t)amt > WRITE_MAX)
		return f->real->pMethods->xWrite(f->real, data, amt, ofst); /* SQLite's own, as it came */
	if (!f->len)
		f->off = ofst;
	if (f->len + (size_t)amt > f->cap) {
		size_t cap = f->cap ? f->cap : 256 * 1024;
		while (cap < f->len + (size_t)amt)
			cap *= 2;
		f->buf = ff_realloc(f->buf, cap);
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, (size_t)amt);
	f->len += (size_t)amt;
	if (ofst == 0 && amt >= 12)
		f->page_size = 0; /* a new WAL header: its page size is read again */
	if (commit_ends_within(f, ofst, ofst + amt))
		return wal_flush(f);
	return SQLITE_OK;
}

/* Every other method passes on what is gathered first, then the call itself. */
#define FLUSH_THEN(method, file, ...)                                                      \
	do {                                                                               \
		struct wal_file *f_ = (struct wal_file *)(file);                           \
		int rc_ = wal_flush(f_);                                                   \
		return rc_ != SQLITE_OK ? rc_ : f_->real->pMethods->method(f_->real, __VA_ARGS__); \
	} while (0)

static int wal_close(sqlite3_file *file)
{
	struct wal_file *f = (struct wal_file *)file;
	int rc = wal_flush(f);
	int rc2 = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
	free(f->buf);
	f->buf = NULL;
	f->cap = 0;
	return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *file, void *data, int amt, sqlite3_int64 ofst)
{
	FLUSH_THEN(xRead, file, data, amt, ofst);
}
static int wal_truncate(sqlite3_file *file, sqlite3_int64 size) { FLUSH_THEN(xTruncate, file, size); }
static int wal_sync(sqlite3_file *file, int flags) { FLUSH_THEN(xSync, file, flags); }
static int wal_file_size(sqlite3_file *file, sqlite3_int64 *size) { FLUSH_THEN(xFileSize, file, size); }
static int wal_lock(sqlite3_file *file, int level) { FLUSH_THEN(xLock, file, level); }
static int wal_unlock(sqlite3_file *file, int level) { FLUSH_THEN(xUnlock, file, level); }
static int wal_check_reserved(sqlite3_file *file, int *out) { FLUSH_THEN(xCheckReservedLock, file, out); }
static int wal_file_control(sqlite3_file *file, int op, void *arg) { FLUSH_THEN(xFileControl, file, op, arg); }

static int wal_sector_size(sqlite3_file *file)
{
	return ((struct wal_file *)file)->real->pMethods->xSectorSize(((struct wal_file *)file)->real);
}

static int wal_device_characteristics(sqlite3_file *file)
{
	return ((struct wal_file *)file)->real->pMethods->xDeviceCharacteristics(((struct wal_file *)file)->real);
}

/* A WAL file has no shared memory and is not memory-mapped (the database file is):
 * version 1 methods. */
static const sqlite3_io_methods wal_methods = {
	1,
	wal_close,
	wal_read,
	wal_write,
	wal_truncate,
	wal_sync,
	wal_file_size,
	wal_lock,
	wal_unlock,
	wal_check_reserved,
	wal_file_control,
	wal_sector_size,
	wal_device_characteristics,
	NULL, NULL, NULL, NULL, NULL, NULL,
};

static int vfs_open(sqlite3_vfs *unused, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags)
{
	(void)unused;
	if (!(flags & SQLITE_OPEN_WAL))
		return base_vfs->xOpen(base_vfs, name, file, flags, out_flags);
	struct wal_file *f = (struct wal_file *)file;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
	/* on failure SQLite calls no method of the file, unless pMethods is set */
	f->base.pMethods = f->real->pMethods ? &wal_methods : NULL;
	if (rc != SQLITE_OK && f->real->pMethods) {
		f->real->pMethods->xClose(f->real);
		f->base.pMethods = NULL;
	}
	return rc;
}

/* The rest of the VFS is the default one's, called with its own object. */
static int vfs_delete(sqlite3_vfs *v, const char *name, int sync)
{
	(void)v;
	return base_vfs->xDelete(base_vfs, name, sync);
}
static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return base_vfs->xAccess(base_vfs, name, flags, out);
}
static int vfs_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return base_vfs->xFullPathname(base_vfs, name, n, out);
}
static void *vfs_dlopen(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return base_vfs->xDlOpen(base_vfs, name);
}
static void vfs_dlerror(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	base_vfs->xDlError(base_vfs, n, out);
}
static void (*vfs_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	return base_vfs->xDlSym(base_vfs, h, sym);
}
static void vfs_dlclose(sqlite3_vfs *v, void *h)
{
	(void)v;
	base_vfs->xDlClose(base_vfs, h);
}
static int vfs_randomness(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return base_vfs->xRandomness(base_vfs, n, out);
}
static int vfs_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return base_vfs->xSleep(base_vfs, us);
}
static int vfs_current_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return base_vfs->xCurrentTime(base_vfs, out);
}
static int vfs_last_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return base_vfs->xGetLastError(base_vfs, n, out);
}
static int vfs_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

static const char *registered;

static void vfs_register(void)
{
	base_vfs = sqlite3_vfs_find(NULL);
	if (!base_vfs || base_vfs->iVersion < 2 || !base_vfs->xCurrentTimeInt64)
		return;
	vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct wal_file) + base_vfs->szOsFile,
		.mxPathname = base_vfs->mxPathname,
		.zName = VFS_NAME,
		.xOpen = vfs_open,
		.xDelete = vfs_delete,
		.xAccess = vfs_access,
		.xFullPathname = vfs_full_pathname,
		.xDlOpen = vfs_dlopen,
		.xDlError = vfs_dlerror,
		.xDlSym = vfs_dlsym,
		.xDlClose = vfs_dlclose,
		.xRandomness = vfs_randomness,
		.xSleep = vfs_sleep,
		.xCurrentTime = vfs_current_time,
		.xGetLastError = vfs_last_error,
		.xCurrentTimeInt64 = vfs_current_time64,
	};
	if (sqlite3_vfs_register(&vfs, 0) == SQLITE_OK)
		registered = VFS_NAME;
}

const char *lite_vfs_name(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, vfs_register);
	return registered;
}
