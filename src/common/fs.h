#ifndef NC_COMMON_FS_H
#define NC_COMMON_FS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/error.h"

/* Reads a whole file of at most max bytes into a malloc'd buffer (caller frees).
 * Larger files fail with NC_ERR_TOO_LARGE without reading them. */
NC_MUST_CHECK nc_err nc_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len);
NC_MUST_CHECK nc_err nc_read_fd(int fd, size_t max, uint8_t **out, size_t *out_len);
/* Writes to a temporary file in the same directory, fsyncs it, renames it into
 * place and fsyncs the directory: readers see the old file or the new, whole. */
NC_MUST_CHECK nc_err nc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* mkdir -p with the given mode for directories it creates. */
NC_MUST_CHECK nc_err nc_mkdir_p(const char *path, mode_t mode);
/* write() all bytes, retrying on EINTR and short writes. */
NC_MUST_CHECK nc_err nc_write_all(int fd, const void *data, size_t len);
/* errno as an nc_err: ENOSPC and EDQUOT are NC_ERR_NO_SPACE. */
nc_err nc_errno_err(int e);
/* read() exactly len bytes; NC_ERR_TRUNCATED on early EOF. */
NC_MUST_CHECK nc_err nc_read_exact(int fd, void *data, size_t len);

#endif
