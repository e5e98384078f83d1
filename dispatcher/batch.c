/*
 * Handing work to a daemon: one task per frame, or a batch of short tasks
 * in one frame, and the record of the tasks each daemon has not returned.
 *
 * Every message costs several thread hand-offs on each side, far more than
 * a trivial R task. A daemon that offered batches in its hello therefore
 * gets as many queued tasks in one frame as fit in the batch budget at
 * the recent time per task. It never gets more than its share of the
 * queue. A slow task can still delay the tasks behind it in its batch.
 * So when another daemon runs out of work, the busiest daemon is asked to
 * give back the tasks it has not started.
 */
#include "dispatcher/batch_frame.h"
#include "dispatcher/detail/core.h"
#include "dispatcher/log.h"

#include <inttypes.h>
#include <time.h>

/* Tasks larger than this travel alone; a batch contains at most the total. */
#define DSP_BATCH_TASK_MAX (16U * 1024U)
#define DSP_BATCH_BYTES_MAX (256U * 1024U)

static uint64_t
now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t) t.tv_sec * 1000000000U + (uint64_t) t.tv_nsec;
}

dsp_task *
dsp__daemon_current_task(const dsp_daemon *daemon)
{
    for (size_t i = daemon->inflight_next; i < daemon->inflight_len; i++) {
        const dsp_inflight *entry = &daemon->inflight[i];
        if (!entry->has_result && entry->task != NULL) {
            return entry->task;
        }
    }
    return NULL;
}

void
dsp__daemon_forget_task(dsp_daemon *daemon, const dsp_task *task)
{
    for (size_t i = daemon->inflight_next; i < daemon->inflight_len; i++) {
        if (daemon->inflight[i].task == task &&
            !daemon->inflight[i].has_result) {
            daemon->inflight[i].task = NULL;
            return;
        }
    }
}

/* How many queued tasks the daemon should get in its next frame. */
static size_t
batch_limit_locked(const dsp_dispatcher *d, const dsp_daemon *daemon)
{
    if (daemon->max_batch <= 1 || d->batch_budget_ns == 0 ||
        d->task_ns == 0) {
        return 1; /* no batches, or nothing known yet about task times */
    }
    uint64_t limit = d->batch_budget_ns / d->task_ns;
    uint64_t daemons = d->stats.connections > 0 ? d->stats.connections : 1;
    uint64_t share = (d->stats.awaiting + daemons - 1) / daemons;
    if (share < limit) {
        limit = share;
    }
    if (daemon->max_batch < limit) {
        limit = daemon->max_batch;
    }
    return limit > 1 ? (size_t) limit : 1;
}

/* Mark a queued task as running on daemon and record it in flight. */
static void
take_task_locked(dsp_dispatcher *d, dsp_daemon *daemon, dsp_task *task)
{
    dsp__list_remove(&task->node);
    task->state = DSP_TASK_RUNNING;
    task->daemon = daemon;
    d->stats.awaiting--;
    d->stats.executing++;
    dsp__queue_release_locked(d, task);
    dsp_inflight *entry = &daemon->inflight[daemon->inflight_len++];
    entry->id = task->id;
    entry->task = task;
    entry->has_result = false;
}

/*
 * Move up to limit small tasks from the head of the queue to the daemon.
 * Returns the number of payload bytes of the frames taken.
 */
static size_t
take_batch_locked(dsp_dispatcher *d, dsp_daemon *daemon, size_t limit)
{
    size_t bytes = 0;
    while (daemon->inflight_len < limit && !dsp__list_empty(&d->queue)) {
        dsp_task *task = DSP__CONTAINER(d->queue.next, dsp_task, node);
        size_t size = nng_msg_len(task->msg);
        if (task->is_suspect || task->bytes > DSP_BATCH_TASK_MAX ||
            bytes + size > DSP_BATCH_BYTES_MAX) {
            break;
        }
        take_task_locked(d, daemon, task);
        bytes += size;
    }
    return bytes;
}

/*
 * A batch frame made of copies of the tasks' frames. The tasks keep their
 * own messages, so that tasks given back can be queued again.
 */
static nng_msg *
batch_frame(const dsp_daemon *daemon, size_t bytes)
{
    nng_msg *frames[DSP_MAX_BATCH];
    for (size_t i = 0; i < daemon->inflight_len; i++) {
        frames[i] = daemon->inflight[i].task->msg;
    }
    return dsp_batch_frame(frames, daemon->inflight_len, bytes);
}

/* Send one task in a frame of its own. */
static void
send_single_locked(dsp_dispatcher *d, dsp_daemon *daemon, dsp_task *task)
{
    /* A task that may be retried keeps a copy for its next attempt. */
    nng_msg *msg = task->msg;
    task->msg = NULL;
    if (task->retries_left > 0 && nng_msg_dup(&task->msg, msg) != 0) {
        dsp_log(DSP_LOG_WARN, "DSP-TASK-RETRY",
            "keep task %" PRIu64 " for a retry: %s", task->id,
            nng_strerror(NNG_ENOMEM));
        task->msg = NULL;
    }
    dsp__send_frame_locked(d, daemon, msg, DSP_FRAME_TASK, task->id);
}

void
dsp_dispatcher_set_batch_budget(dsp_dispatcher *d, uint32_t budget_us)
{
    pthread_mutex_lock(&d->lock);
    d->batch_budget_ns = (uint64_t) budget_us * 1000U;
    pthread_mutex_unlock(&d->lock);
}

void
dsp__daemon_start_work_locked(dsp_dispatcher *d, dsp_daemon *daemon)
{
    daemon->inflight_len = 0;
    daemon->inflight_next = 0;
    daemon->is_recalled = false;
    daemon->batch_sent_ns = now_ns();

    size_t bytes = take_batch_locked(d, daemon,
        batch_limit_locked(d, daemon));
    if (daemon->inflight_len == 0) {
        /* The task at the head is too large for a batch, or a suspect. */
        take_task_locked(d, daemon,
            DSP__CONTAINER(d->queue.next, dsp_task, node));
    }
    if (daemon->inflight_len == 1) {
        send_single_locked(d, daemon, daemon->inflight[0].task);
        return;
    }

    nng_msg *msg = batch_frame(daemon, bytes);
    if (msg == NULL) {
        dsp_log(DSP_LOG_ERROR, "DSP-SEND-FAILED",
            "send %zu tasks to daemon %u: %s", daemon->inflight_len,
            daemon->number, nng_strerror(NNG_ENOMEM));
        dsp__daemon_drop_locked(d, daemon);
        return;
    }
    dsp__list_push_back(&d->batched, &daemon->batched_node);
    /* The window records the batch as its first task, whose result
     * normally comes back first. */
    dsp__send_frame_locked(d, daemon, msg, DSP_FRAME_TASK,
        daemon->inflight[0].id);
}

/* Fold the time per task of the daemon's finished frame into task_ns. */
static void
note_frame_time_locked(dsp_dispatcher *d, const dsp_daemon *daemon)
{
    uint64_t elapsed = now_ns() - daemon->batch_sent_ns;
    uint64_t per_task = elapsed / daemon->inflight_len;
    if (per_task == 0) {
        per_task = 1;
    }
    d->task_ns = d->task_ns == 0 ? per_task : (d->task_ns + per_task) / 2;
}

dsp_inflight *
dsp__daemon_pending_entry(dsp_daemon *daemon, uint64_t id)
{
    for (size_t i = daemon->inflight_next; i < daemon->inflight_len; i++) {
        dsp_inflight *entry = &daemon->inflight[i];
        if (entry->id == id) {
            return entry->has_result ? NULL : entry;
        }
    }
    return NULL;
}

dsp_inflight *
dsp__daemon_answer_locked(dsp_dispatcher *d, dsp_daemon *daemon,
    uint64_t id)
{
    dsp_inflight *entry = dsp__daemon_pending_entry(daemon, id);
    if (entry == NULL) {
        return NULL;
    }
    entry->has_result = true;
    while (daemon->inflight_next < daemon->inflight_len &&
        daemon->inflight[daemon->inflight_next].has_result) {
        daemon->inflight_next++;
    }
    if (daemon->inflight_next == daemon->inflight_len) {
        note_frame_time_locked(d, daemon);
        dsp__list_remove(&daemon->batched_node);
    }
    return entry;
}

bool
dsp__daemon_is_busy(const dsp_daemon *daemon)
{
    return daemon->inflight_next < daemon->inflight_len;
}

void
dsp__recall_for_idle_locked(dsp_dispatcher *d)
{
    dsp_daemon *busiest = NULL;
    size_t max_pending = 1; /* a daemon needs 2 to give one back */
    for (dsp__node *node = d->batched.next; node != &d->batched;
         node = node->next) {
        dsp_daemon *daemon = DSP__CONTAINER(node, dsp_daemon, batched_node);
        size_t pending = 0;
        for (size_t i = daemon->inflight_next; i < daemon->inflight_len;
             i++) {
            pending += daemon->inflight[i].has_result ? 0 : 1;
        }
        if (!daemon->is_recalled && !daemon->is_closing &&
            pending > max_pending) {
            busiest = daemon;
            max_pending = pending;
        }
    }
    if (busiest != NULL) {
        busiest->is_recalled = true;
        busiest->recall_to_send = true;
        dsp__daemon_pump_locked(d, busiest);
    }
}
