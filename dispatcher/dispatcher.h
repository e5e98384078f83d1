/*
 * The dispatcher: a C11 library on NNG, with no R, that runs on NNG's own
 * threads inside the host process.
 *
 * It listens at one or more URLs for daemons, keeps a first-in first-out
 * queue of tasks, and sends each task to an idle daemon. Results come back
 * to the host through completion callbacks. Daemons may connect and
 * disconnect at any time; a task whose daemon is lost resolves with
 * DSP_ECONNRESET (or is re-queued, when it has retries left) and the rest
 * carry on. A task may have a deadline, after which it resolves with
 * DSP_ETIMEDOUT and is stopped on its daemon. Setup tasks (everywhere()) go to
 * every connected daemon and to every daemon that connects later, before
 * any ordinary task.
 *
 * Unless stated otherwise every function may be called from any thread,
 * including from inside a completion callback.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "dispatcher/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DSP_EXPORT __attribute__((visibility("default")))
#else
#define DSP_EXPORT
#endif /* defined(__GNUC__) */

/*
 * Status codes. The numbers are NNG's, which are also the error values
 * that mirai users know (5 timed out, 19 connection reset, 20 cancelled).
 */
enum dsp_status {
    DSP_OK = 0,
    DSP_ENOMEM = NNG_ENOMEM,
    DSP_EINVAL = NNG_EINVAL,
    DSP_EAGAIN = NNG_EAGAIN,       /* the queue budget has no room now */
    DSP_ETIMEDOUT = NNG_ETIMEDOUT, /* 5: the task's deadline passed */
    DSP_ECLOSED = NNG_ECLOSED,     /* the dispatcher is closing */
    DSP_ENOENT = NNG_ENOENT,       /* no such task: unknown or resolved */
    DSP_EPROTO = NNG_EPROTO,
    DSP_ECONNRESET = NNG_ECONNRESET, /* 19: daemon lost or reset */
    DSP_ECANCELED = NNG_ECANCELED    /* 20: cancelled by the host */
};

/* The text of a status code (NNG's text for NNG's codes). */
DSP_EXPORT const char *dsp_strerror(int status);

typedef struct dsp_dispatcher dsp_dispatcher;

/*
 * How one task ended, passed to its completion callback.
 *
 * When status is DSP_OK, msg is the daemon's result frame (header
 * included) and the callback owns it: it must free it with nng_msg_free
 * or keep it. payload and payload_len point into msg, and flags is one
 * of enum dsp_result_flag. Otherwise msg and payload are NULL.
 */
typedef struct dsp_result {
    uint64_t task_id;
    int status;
    uint32_t flags;
    nng_msg *msg;
    const void *payload;
    size_t payload_len;
} dsp_result;

/*
 * A completion callback. It runs exactly once per submitted task, on an
 * NNG thread or on the thread that called cancel or close, never while
 * the dispatcher holds its lock. It must not call into R.
 */
typedef void (*dsp_result_cb)(void *arg, const dsp_result *result);

/* Counters, read together under the dispatcher's lock. */
typedef struct dsp_stats {
    uint32_t connections;   /* daemons that said hello and are connected */
    uint64_t awaiting;      /* tasks queued, not yet sent */
    uint64_t executing;     /* tasks sent to a daemon, not yet resolved */
    uint64_t completed;     /* tasks that returned a result frame */
    uint64_t cancelled;     /* tasks resolved with DSP_ECANCELED */
    uint64_t failed;        /* tasks resolved with another error status */
    uint64_t daemons_seen;  /* daemons that ever said hello */
    uint64_t daemons_lost;  /* connected daemons that went away */
    uint64_t awaiting_bytes;      /* payload bytes of the queued tasks */
    uint64_t awaiting_bytes_peak; /* the most awaiting_bytes ever held */
    uint64_t returned; /* batched tasks given back unstarted and requeued */
} dsp_stats;

/* One connected daemon, as reported by dsp_dispatcher_daemons. */
typedef struct dsp_daemon_info {
    uint32_t id;        /* the dispatcher's number for it, from 1 */
    uint64_t pid;       /* as the daemon reported in its hello */
    uint64_t task_id;   /* the task it is running, 0 when idle */
    uint64_t completed; /* tasks it has returned */
} dsp_daemon_info;

/*
 * Create a dispatcher. It does nothing until dsp_dispatcher_listen.
 * Returns DSP_OK, DSP_ENOMEM, or an NNG status from opening the socket.
 */
DSP_EXPORT int dsp_dispatcher_open(dsp_dispatcher **dp);

/*
 * Start listening at url (ipc://, tcp://, inproc://). May be called more
 * than once. A tcp URL with port 0 binds a free port: the bound URL is
 * written to bound_url (capacity bound_len) when that is not NULL.
 */
DSP_EXPORT int dsp_dispatcher_listen(dsp_dispatcher *d, const char *url,
    char *bound_url, size_t bound_len);

/*
 * Set how long one batch of tasks should take, in microseconds (default
 * DSP_BATCH_BUDGET_US). A daemon that offered batches in its hello is sent
 * as many queued tasks in one frame as take that long at the recent time
 * per task, at most its share of the queue. 0 sends one task per frame,
 * which suits tasks of very different lengths best.
 */
#define DSP_BATCH_BUDGET_US 2000U
DSP_EXPORT void dsp_dispatcher_set_batch_budget(dsp_dispatcher *d,
    uint32_t budget_us);

/*
 * Allocate a message for a task with payload_len bytes of payload. The
 * first DSP_HEADER_SIZE bytes of its body are the header, which submit
 * fills in; *payload points just past them, for the caller to write.
 */
DSP_EXPORT int dsp_task_msg_alloc(nng_msg **msgp, size_t payload_len,
    void **payload);

/*
 * Queue a task. The dispatcher takes ownership of msg (made with
 * dsp_task_msg_alloc) whatever the outcome. On DSP_OK the id is written to
 * *task_id (ids start at 1 and are never reused) and cb will be called
 * exactly once. On any other status cb is never called. Returns
 * DSP_ECLOSED once close has begun, DSP_EINVAL for a message shorter than
 * a header.
 */
DSP_EXPORT int dsp_dispatcher_submit(dsp_dispatcher *d, nng_msg *msg,
    dsp_result_cb cb, void *arg, uint64_t *task_id);

/* Per-task options for dsp_dispatcher_submit_opts. */
typedef struct dsp_task_options {
    /*
     * When positive, the task resolves with DSP_ETIMEDOUT this many
     * milliseconds after submit (queued time included), unless it resolved
     * before. A running task is then stopped as by cancel. 0: no deadline.
     */
    int64_t timeout_ms;
    /*
     * How many times the task is put back at the head of the queue when
     * the daemon running it is lost, before it resolves with
     * DSP_ECONNRESET. A task that may be retried keeps a copy of its
     * message while it runs.
     */
    uint32_t retries;
} dsp_task_options;

/*
 * Queue a task as dsp_dispatcher_submit does, with options (NULL for the
 * defaults). Returns DSP_EINVAL, with msg freed, for a negative timeout or
 * one above INT32_MAX milliseconds.
 */
DSP_EXPORT int dsp_dispatcher_submit_opts(dsp_dispatcher *d, nng_msg *msg,
    dsp_result_cb cb, void *arg, const dsp_task_options *opts,
    uint64_t *task_id);

/*
 * Set the queue budget: the payload bytes that queued tasks (submitted,
 * not yet sent to a daemon) may hold before dsp_dispatcher_submit_wait
 * waits. 0, the default, means unlimited. dsp_dispatcher_submit ignores
 * the budget. Lowering it does not evict tasks already queued.
 */
DSP_EXPORT void dsp_dispatcher_set_queue_budget(dsp_dispatcher *d,
    uint64_t bytes);

/*
 * Queue a task like dsp_dispatcher_submit_opts (opts may be NULL), but
 * first wait until the queue budget has room for its payload: room means the queue is empty (so a
 * single payload larger than the budget still gets in) or the queued
 * bytes plus this payload fit in the budget. timeout_ms 0 does not wait,
 * a negative timeout waits forever. Ownership of msg passes to the
 * dispatcher only on DSP_OK; on every other status the caller keeps msg.
 * Returns DSP_OK, DSP_EAGAIN (no room and timeout_ms is 0),
 * DSP_ETIMEDOUT, DSP_ECLOSED (close began, also while waiting), or
 * DSP_EINVAL.
 */
DSP_EXPORT int dsp_dispatcher_submit_wait(dsp_dispatcher *d, nng_msg *msg,
    dsp_result_cb cb, void *arg, const dsp_task_options *opts,
    uint64_t *task_id, int timeout_ms);

/*
 * Cancel a task. A queued task is removed and never runs. A running task
 * gets a cancel frame sent to its daemon, which interrupts it. Either way
 * the task resolves with DSP_ECANCELED before this returns. Returns
 * DSP_ENOENT when the task is unknown or already resolved.
 */
DSP_EXPORT int dsp_dispatcher_cancel(dsp_dispatcher *d, uint64_t task_id);

/*
 * Broadcast a setup task (same message format as a task) to every
 * connected daemon and to every daemon that connects later. Takes
 * ownership of msg. The setup's id is written to *setup_id.
 */
DSP_EXPORT int dsp_dispatcher_everywhere(dsp_dispatcher *d, nng_msg *msg,
    uint64_t *setup_id);

/*
 * Block until at least min distinct daemons have acknowledged setup_id,
 * or timeout_ms passes (a negative timeout waits forever). Returns
 * DSP_OK, DSP_ETIMEDOUT, DSP_ENOENT for an unknown id, or DSP_ECLOSED.
 * *done receives the count reached, when not NULL.
 */
DSP_EXPORT int dsp_dispatcher_wait_setup(dsp_dispatcher *d,
    uint64_t setup_id, uint32_t min, int timeout_ms, uint32_t *done);

/*
 * Block until at least n daemons are connected (said hello), or
 * timeout_ms passes. Returns DSP_OK, DSP_ETIMEDOUT or DSP_ECLOSED.
 */
DSP_EXPORT int dsp_dispatcher_wait_connections(dsp_dispatcher *d,
    uint32_t n, int timeout_ms);

/* Copy the counters into *stats. */
DSP_EXPORT void dsp_dispatcher_stats(dsp_dispatcher *d, dsp_stats *stats);

/*
 * Describe up to cap connected daemons into out; *count receives the
 * number connected, which may exceed cap.
 */
DSP_EXPORT void dsp_dispatcher_daemons(dsp_dispatcher *d,
    dsp_daemon_info *out, size_t cap, size_t *count);

/*
 * Shut down: stop listening, send an exit frame to every daemon, resolve
 * every unresolved task with DSP_ECONNRESET, wait for callbacks that are
 * running, and free everything. The handle is invalid afterwards. Must
 * not be called from inside a completion callback.
 */
DSP_EXPORT void dsp_dispatcher_close(dsp_dispatcher *d);

#ifdef __cplusplus
}
#endif
