/* Group commit: nothing is acknowledged, and no run starts, before the
 * commits it follows are on disk.
 *
 * SQLite runs with synchronous=NORMAL, so COMMIT itself does not wait for
 * the disk. Instead every reply (and every queued run) carries the number
 * of commits made so far; it is held until an fdatasync of the WAL, on the
 * thread pool, has covered that many. Commits made while one sync is in
 * flight are covered by the next, so throughput does not fall to one commit
 * per disk flush. The signed checkpoint written outside the database is
 * written only after a blocking sync (once a second at most), so it never
 * covers entries a power loss could take away. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "worker/worker.h"

/* fdatasync of the WAL (and, once per worker start, of the state
 * directory, which holds the WAL SQLite created at open). A missing WAL means
 * SQLite checkpointed everything into the database and synced it. */
static int sync_files(const char *wal_path, const char *dir_path, bool dir_too)
{
    int rc = 0;
    int fd = open(wal_path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (fdatasync(fd) != 0)
            rc = errno;
        close(fd);
    } else if (errno != ENOENT) {
        rc = errno;
    }
    if (rc == 0 && dir_too) {
        int dfd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0)
            rc = errno ? errno : EIO;
        if (dfd >= 0)
            close(dfd);
    }
    return rc;
}

static void sync_work(uv_work_t *req)
{
    nc_worker *w = req->data;
    w->sync_errno = sync_files(w->wal_path, w->state_dir, !w->dir_synced);
}

static void start_sync(nc_worker *w);

/* Durability could not be had: nothing waiting is acknowledged. The
 * connections waiting are closed (their requests may or may not have been
 * recorded; the audit log says which), and the worker stops, since the disk
 * no longer keeps what it is told (after a failed fsync the kernel may have
 * dropped the pages). */
static void sync_failed(nc_worker *w, int e)
{
    fprintf(stderr, "nightcore-worker: cannot flush the database to disk (%s): stopping without acknowledging "
            "what is waiting; check the disk, then `nightcore worker start` and `nightcore audit verify`\n",
            strerror(e));
    w->sync_failed = true;
    nc_runs_drop_undurable(w);
    nc_server_drop_deferred(w);
    if (!w->stopping) {
        w->stopping = true;
        nc_server_stop(w);
    }
}

static void sync_done(uv_work_t *req, int status)
{
    nc_worker *w = req->data;
    w->syncing = false;
    int e = status == 0 ? w->sync_errno : EIO;
    if (e != 0) {
        sync_failed(w, e);
    } else {
        w->syncs++;
        w->dir_synced = true;
        if (w->sync_target > w->synced_gen)   /* a blocking sync may have covered more meanwhile */
            w->synced_gen = w->sync_target;
        nc_server_flush_deferred(w);
        nc_runs_resume(w);
    }
    if (w->sync_wanted && !w->syncing && e == 0)   /* (the flush above may have started one) */
        start_sync(w);
    nc_worker_maybe_stop(w);
}

static void start_sync(nc_worker *w)
{
    if (w->syncing) {   /* one uv_work_t: never queued twice */
        w->sync_wanted = true;
        return;
    }
    w->sync_wanted = false;
    w->syncing = true;
    w->sync_target = nc_db_commits(w->db);
    w->sync_req.data = w;
    if (uv_queue_work(w->loop, &w->sync_req, sync_work, sync_done) != 0) {
        w->syncing = false;
        sync_failed(w, EAGAIN);
    }
}

bool nc_durable(const nc_worker *w, uint64_t gen)
{
    return gen <= w->synced_gen;
}

void nc_durable_request(nc_worker *w)
{
    if (w->sync_failed || nc_db_commits(w->db) <= w->synced_gen)
        return;
    if (w->syncing)
        w->sync_wanted = true;   /* the one in flight may have started before the newest commit */
    else
        start_sync(w);
}

nc_err nc_durable_now(nc_worker *w)
{
    uint64_t gen = nc_db_commits(w->db);
    int e = sync_files(w->wal_path, w->state_dir, !w->dir_synced);
    if (e != 0) {
        fprintf(stderr, "nightcore-worker: cannot flush the database to disk: %s\n", strerror(e));
        return e == ENOSPC || e == EDQUOT ? NC_ERR_NO_SPACE : NC_ERR_IO;
    }
    w->syncs++;
    w->dir_synced = true;
    if (gen > w->synced_gen)
        w->synced_gen = gen;
    nc_server_flush_deferred(w);
    nc_runs_resume(w);
    return NC_OK;
}
