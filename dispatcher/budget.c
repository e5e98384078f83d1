/*
 * The queue budget: a limit on the payload bytes of queued tasks, so that
 * a host that submits faster than its daemons work cannot fill memory
 * with serialized tasks. Only dsp_dispatcher_submit_wait honours it.
 * Waiting submitters sleep on d->room, which is signalled when a task
 * leaves the queue (sent, cancelled or resolved) and when close begins.
 */
#include "dispatcher/detail/core.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

void
dsp_dispatcher_set_queue_budget(dsp_dispatcher *d, uint64_t bytes)
{
    pthread_mutex_lock(&d->lock);
    d->queue_budget = bytes;
    if (d->room_waiters > 0) {
        pthread_cond_broadcast(&d->room);
    }
    pthread_mutex_unlock(&d->lock);
}

void
dsp__queue_release_locked(dsp_dispatcher *d, dsp_task *task)
{
    d->stats.awaiting_bytes -= task->bytes;
    if (d->room_waiters > 0) {
        pthread_cond_broadcast(&d->room);
    }
}

/*
 * An empty queue always has room, or a payload larger than the budget
 * could never be submitted.
 */
static bool
has_room_locked(const dsp_dispatcher *d, uint64_t bytes)
{
    uint64_t queued = d->stats.awaiting_bytes;
    return d->queue_budget == 0 || queued == 0 ||
        (bytes <= d->queue_budget && queued <= d->queue_budget - bytes);
}

/* Wait until the queue has room for bytes, close begins, or time is up. */
static int
wait_room_locked(dsp_dispatcher *d, uint64_t bytes, int timeout_ms)
{
    struct timespec deadline =
        dsp__deadline_after(timeout_ms < 0 ? 0 : timeout_ms);

    for (;;) {
        if (d->is_closing) {
            return DSP_ECLOSED;
        }
        if (has_room_locked(d, bytes)) {
            return DSP_OK;
        }
        if (timeout_ms == 0) {
            return DSP_EAGAIN;
        }
        d->room_waiters++;
        int rv = timeout_ms < 0
            ? pthread_cond_wait(&d->room, &d->lock)
            : pthread_cond_timedwait(&d->room, &d->lock, &deadline);
        d->room_waiters--;
        if (rv == ETIMEDOUT && !d->is_closing &&
            !has_room_locked(d, bytes)) {
            return DSP_ETIMEDOUT;
        }
    }
}

int
dsp_dispatcher_submit_wait(dsp_dispatcher *d, nng_msg *msg,
    dsp_result_cb cb, void *arg, const dsp_task_options *opts,
    uint64_t *task_id, int timeout_ms)
{
    if (d == NULL || msg == NULL || cb == NULL ||
        nng_msg_len(msg) < DSP_HEADER_SIZE ||
        (opts != NULL && (opts->timeout_ms < 0 ||
                             opts->timeout_ms > INT32_MAX))) {
        return DSP_EINVAL;
    }
    dsp_task *task = dsp__task_new(msg, cb, arg);
    if (task == NULL) {
        return DSP_ENOMEM;
    }

    pthread_mutex_lock(&d->lock);
    d->users++;
    int rv = wait_room_locked(d, task->bytes, timeout_ms);
    if (rv == DSP_OK) {
        rv = dsp__task_submit_locked(d, task, opts, task_id);
    }
    dsp__leave_locked(d);
    if (rv != DSP_OK) {
        free(task);
    }
    return rv;
}
