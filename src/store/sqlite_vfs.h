/*
 * sqlite_vfs.h - the VFS that fulfill's SQLite connections open their files through:
 * the system's default VFS, except that a WAL file's frame writes are gathered and
 * written with one pwrite per transaction (sqlite_vfs.c says why and how).
 */
#ifndef FULFILL_STORE_SQLITE_VFS_H
#define FULFILL_STORE_SQLITE_VFS_H

/* Register the VFS (once per process; later calls return the same name). Returns its
 * name for sqlite3_open_v2(), or NULL when registration failed (the caller then opens
 * with the default VFS). */
const char *lite_vfs_name(void);

#endif
