/*
 * Tasks: submission, cancellation and resolution.
 *
 * A task lives in the id map from submit until it resolves, so cancel and
 * the receive path find it in O(1). Resolution happens under the lock and
 * only moves the task into a batch; its callback runs after the lock is
 * released, which is what lets a callback call back into the dispatcher.
 */
#include "dispatcher/detail/core.h"
#include "dispatcher/log.h"

#include <inttypes.h>

#include <stdlib.h>

void
dsp__batch_init(dsp__batch *batch)
{
    dsp__list_init(&batch->done);
}

void
dsp__unlock_and_deliver(dsp_dispatcher *d, dsp__batch *batch)
{
    if (dsp__list_empty(&batch->done)) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    d->users++;
    pthread_mutex_unlock(&d->lock);

    dsp__node *node;
    while ((node = dsp__list_pop_front(&batch->done)) != NULL) {
        dsp_task *task = DSP__CONTAINER(node, dsp_task, node);
        task->cb(task->arg, &task->result);
        free(task);
    }

    /* close frees d once no delivery is left, so this is the last touch. */
    pthread_mutex_lock(&d->lock);
    d->users--;
    if (d->users == 0 && d->is_closing) {
        pthread_cond_broadcast(&d->cond);
    }
    pthread_mutex_unlock(&d->lock);
}

static void
count_resolution(dsp_stats *stats, int status)
{
    if (status == DSP_OK) {
        stats->completed++;
    } else if (status == DSP_ECANCELED) {
        stats->cancelled++;
    } else {
        stats->failed++;
    }
}

void
dsp__task_finish_locked(dsp_dispatcher *d, dsp_task *task, int status,
    nng_msg *msg, dsp__batch *batch)
{
    dsp__id_map_remove(&d->tasks, task->id);
    dsp__list_remove(&task->timer_node);
    if (task->state == DSP_TASK_QUEUED) {
        dsp__list_remove(&task->node);
        d->stats.awaiting--;
        dsp__queue_release_locked(d, task);
    } else if (task->state == DSP_TASK_RUNNING) {
        d->stats.executing--;
        if (task->daemon != NULL) {
            dsp__daemon_forget_task(task->daemon, task);
        }
    }
    nng_msg_free(task->msg);
    task->msg = NULL;
    task->daemon = NULL;
    count_resolution(&d->stats, status);

    dsp_result *result = &task->result;
    result->task_id = task->id;
    result->status = status;
    result->flags = 0;
    result->msg = msg;
    result->payload = NULL;
    result->payload_len = 0;
    if (msg != NULL) {
        const unsigned char *body = nng_msg_body(msg);
        result->flags = dsp__get_u32(body + 16);
        result->payload = body + DSP_HEADER_SIZE;
        result->payload_len = nng_msg_len(msg) - DSP_HEADER_SIZE;
    }
    task->state = DSP_TASK_DONE;
    dsp__list_push_back(&batch->done, &task->node);
}

int
dsp_task_msg_alloc(nng_msg **msgp, size_t payload_len, void **payload)
{
    if (msgp == NULL || payload_len > SIZE_MAX - DSP_HEADER_SIZE) {
        return DSP_EINVAL;
    }
    nng_msg *msg;
    int rv = nng_msg_alloc(&msg, DSP_HEADER_SIZE + payload_len);
    if (rv != 0) {
        return rv;
    }
    if (payload != NULL) {
        *payload = (unsigned char *) nng_msg_body(msg) + DSP_HEADER_SIZE;
    }
    *msgp = msg;
    return DSP_OK;
}

dsp_task *
dsp__task_new(nng_msg *msg, dsp_result_cb cb, void *arg)
{
    dsp_task *task = calloc(1, sizeof(*task));
    if (task == NULL) {
        return NULL;
    }
    task->msg = msg;
    task->bytes = nng_msg_len(msg) - DSP_HEADER_SIZE;
    task->cb = cb;
    task->arg = arg;
    task->state = DSP_TASK_QUEUED;
    dsp__list_init(&task->node);
    dsp__list_init(&task->timer_node);
    return task;
}

void
dsp__pump_idle_locked(dsp_dispatcher *d)
{
    while (!dsp__list_empty(&d->queue) && !dsp__list_empty(&d->idle)) {
        dsp__node *node = d->idle.next;
        dsp__daemon_pump_locked(d,
            DSP__CONTAINER(node, dsp_daemon, idle_node));
        if (d->idle.next == node) {
            break; /* it took nothing, so no other idle daemon will */
        }
    }
}

static int
check_options(const dsp_task_options *opts)
{
    if (opts == NULL) {
        return DSP_OK;
    }
    if (opts->timeout_ms < 0 || opts->timeout_ms > INT32_MAX) {
        return DSP_EINVAL;
    }
    return DSP_OK;
}

int
dsp__task_submit_locked(dsp_dispatcher *d, dsp_task *task,
    const dsp_task_options *opts, uint64_t *task_id)
{
    if (d->is_closing) {
        return DSP_ECLOSED;
    }
    task->id = d->next_id;
    int rv = dsp__id_map_put(&d->tasks, task->id, task);
    if (rv != 0) {
        return rv;
    }
    d->next_id++;
    dsp_wire_encode(nng_msg_body(task->msg), DSP_FRAME_TASK, task->id, 0,
        task->bytes);
    if (task_id != NULL) {
        *task_id = task->id;
    }
    task->retries_left = opts != NULL ? opts->retries : 0;
    if (opts != NULL && opts->timeout_ms > 0) {
        dsp__timer_add_locked(d, task, opts->timeout_ms);
    }
    dsp__list_push_back(&d->queue, &task->node);
    d->stats.awaiting++;
    d->stats.awaiting_bytes += task->bytes;
    if (d->stats.awaiting_bytes > d->stats.awaiting_bytes_peak) {
        d->stats.awaiting_bytes_peak = d->stats.awaiting_bytes;
    }
    dsp__pump_idle_locked(d);
    return DSP_OK;
}

int
dsp_dispatcher_submit(dsp_dispatcher *d, nng_msg *msg, dsp_result_cb cb,
    void *arg, uint64_t *task_id)
{
    return dsp_dispatcher_submit_opts(d, msg, cb, arg, NULL, task_id);
}

int
dsp_dispatcher_submit_opts(dsp_dispatcher *d, nng_msg *msg, dsp_result_cb cb,
    void *arg, const dsp_task_options *opts, uint64_t *task_id)
{
    if (msg == NULL) {
        return DSP_EINVAL;
    }
    if (d == NULL || cb == NULL || nng_msg_len(msg) < DSP_HEADER_SIZE ||
        check_options(opts) != DSP_OK) {
        nng_msg_free(msg);
        return DSP_EINVAL;
    }
    dsp_task *task = dsp__task_new(msg, cb, arg);
    if (task == NULL) {
        nng_msg_free(msg);
        return DSP_ENOMEM;
    }
    pthread_mutex_lock(&d->lock);
    int rv = dsp__task_submit_locked(d, task, opts, task_id);
    pthread_mutex_unlock(&d->lock);
    if (rv != 0) {
        nng_msg_free(msg);
        free(task);
    }
    return rv;
}

/*
 * Queue a task that had been sent to a daemon again, before every queued
 * task submitted after it, so that the queue stays first in, first out.
 */
static void
put_back_locked(dsp_dispatcher *d, dsp_task *task)
{
    if (task->daemon != NULL) {
        dsp__daemon_forget_task(task->daemon, task);
    }
    task->daemon = NULL;
    task->state = DSP_TASK_QUEUED;
    d->stats.executing--;
    d->stats.awaiting++;
    d->stats.awaiting_bytes += task->bytes;

    dsp__node *next = d->queue.next;
    while (next != &d->queue &&
        DSP__CONTAINER(next, dsp_task, node)->id < task->id) {
        next = next->next;
    }
    dsp__list_push_back(next, &task->node); /* links it before next */
}

bool
dsp__task_requeue_locked(dsp_dispatcher *d, dsp_task *task)
{
    if (task->retries_left == 0 || task->msg == NULL) {
        return false;
    }
    task->retries_left--;
    put_back_locked(d, task);
    dsp_log(DSP_LOG_NOTICE, "DSP-TASK-RETRY",
        "retry task %" PRIu64 ": its daemon was lost, %" PRIu32
        " retries left", task->id, task->retries_left);
    return true;
}

void
dsp__task_return_locked(dsp_dispatcher *d, dsp_task *task)
{
    put_back_locked(d, task);
    d->stats.returned++;
}

bool
dsp__task_return_suspect_locked(dsp_dispatcher *d, dsp_task *task)
{
    if (task->msg == NULL) {
        return false;
    }
    task->is_suspect = true;
    put_back_locked(d, task);
    return true;
}

/*
 * A running task resolves now and its daemon gets a cancel frame. The
 * daemon stays busy until it returns the task's result, which is then
 * discarded. A task waiting in a daemon's batch is skipped there. A task
 * resolves once, so it is aborted at most once, and the cancels waiting
 * cannot outnumber the batch; the bound is checked below as well.
 */
void
dsp__task_abort_locked(dsp_dispatcher *d, dsp_task *task, int status,
    dsp__batch *batch)
{
    if (task->state == DSP_TASK_QUEUED) {
        dsp__task_finish_locked(d, task, status, NULL, batch);
        return;
    }
    dsp_daemon *daemon = task->daemon;

    dsp__task_finish_locked(d, task, status, NULL, batch);
    if (daemon == NULL || daemon->is_closing) {
        return;
    }
    /* A new frame goes out only once every cancel has gone (pump sends
     * them first), so the cancels waiting are for tasks of one frame. */
    if (daemon->cancel_count < DSP_MAX_BATCH) {
        daemon->cancels[daemon->cancel_count++] = task->id;
    }
    dsp__daemon_pump_locked(d, daemon);
}

int
dsp_dispatcher_cancel(dsp_dispatcher *d, uint64_t task_id)
{
    dsp__batch batch;
    dsp__batch_init(&batch);

    pthread_mutex_lock(&d->lock);
    dsp_task *task = dsp__id_map_get(&d->tasks, task_id);
    if (task == NULL) {
        pthread_mutex_unlock(&d->lock);
        return DSP_ENOENT;
    }
    dsp__task_abort_locked(d, task, DSP_ECANCELED, &batch);
    dsp__unlock_and_deliver(d, &batch);
    return DSP_OK;
}
