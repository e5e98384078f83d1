/*
 * Daemons: pipe events, the receive loop and the frames daemons send.
 *
 * A pipe gets a dsp_daemon record at NNG_PIPE_EV_ADD_PRE, before NNG can
 * deliver any message from it, and loses it at NNG_PIPE_EV_REM_POST. NNG
 * 1.5.2 runs REM_POST on its reaper thread after nng_pipe_close returns,
 * which is why nng_pipe_close may be called here with the lock held.
 */
#include "dispatcher/detail/core.h"
#include "dispatcher/log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
dsp__daemon_drop_locked(dsp_dispatcher *d, dsp_daemon *daemon)
{
    (void) d;
    if (daemon->is_closing) {
        return;
    }
    daemon->is_closing = true;
    dsp__list_remove(&daemon->idle_node);
    nng_pipe_close(daemon->pipe);
}

/* Log why a peer's frame was rejected and close its pipe. */
static void
reject_locked(dsp_dispatcher *d, dsp_daemon *daemon, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif /* defined(__GNUC__) */
    ;

static void
reject_locked(dsp_dispatcher *d, dsp_daemon *daemon, const char *fmt, ...)
{
    char problem[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(problem, sizeof(problem), fmt, ap);
    va_end(ap);
    dsp_log(DSP_LOG_WARN, "DSP-FRAME-INVALID",
        "receive frame on pipe %u: %s: closing the pipe",
        nng_pipe_id(daemon->pipe), problem);
    dsp__daemon_drop_locked(d, daemon);
}

static void
send_setups_locked(dsp_dispatcher *d, dsp_daemon *daemon)
{
    while (!daemon->is_closing && daemon->setups_sent < d->setup_count &&
        daemon->window_len < DSP_SEND_WINDOW) {
        dsp_setup *setup = &d->setups[daemon->setups_sent];
        nng_msg *copy;
        if (nng_msg_dup(&copy, setup->msg) != 0) {
            dsp_log(DSP_LOG_ERROR, "DSP-SEND-FAILED",
                "send setup %" PRIu64 " to daemon %u: %s", setup->id,
                daemon->number, nng_strerror(NNG_ENOMEM));
            dsp__daemon_drop_locked(d, daemon);
            return;
        }
        daemon->setups_sent++;
        dsp__send_frame_locked(d, daemon, copy, DSP_FRAME_SETUP, setup->id);
    }
}

/*
 * Send waiting cancel and recall frames while the window has room. A
 * cancel whose task has returned its result meanwhile is dropped.
 */
static void
send_controls_locked(dsp_dispatcher *d, dsp_daemon *daemon)
{
    while (daemon->cancel_count > 0 && !daemon->is_closing &&
        daemon->window_len < DSP_SEND_WINDOW) {
        uint64_t id = daemon->cancels[0];
        daemon->cancel_count--;
        memmove(daemon->cancels, daemon->cancels + 1,
            daemon->cancel_count * sizeof(daemon->cancels[0]));
        if (dsp__daemon_pending_entry(daemon, id) != NULL) {
            dsp__send_control_locked(d, daemon, DSP_FRAME_CANCEL, id);
        }
    }
    if (daemon->recall_to_send && !daemon->is_closing &&
        daemon->window_len < DSP_SEND_WINDOW) {
        daemon->recall_to_send = false;
        if (dsp__daemon_is_busy(daemon)) {
            dsp__send_control_locked(d, daemon, DSP_FRAME_RECALL, 0);
        }
    }
}

void
dsp__daemon_pump_locked(dsp_dispatcher *d, dsp_daemon *daemon)
{
    if (!daemon->has_hello || daemon->is_closing || d->is_closing) {
        return;
    }
    send_controls_locked(d, daemon);
    if (daemon->is_retiring) {
        dsp__list_remove(&daemon->idle_node);
        return;
    }
    send_setups_locked(d, daemon);

    bool is_ready = !daemon->is_closing && !dsp__daemon_is_busy(daemon) &&
        daemon->setups_sent == d->setup_count &&
        daemon->window_len < DSP_SEND_WINDOW;
    if (!is_ready) {
        dsp__list_remove(&daemon->idle_node);
        return;
    }

    if (!dsp__list_empty(&d->queue)) {
        dsp__list_remove(&daemon->idle_node);
        dsp__daemon_start_work_locked(d, daemon);
    } else if (!dsp__node_linked(&daemon->idle_node)) {
        dsp__list_push_back(&d->idle, &daemon->idle_node);
        dsp__recall_for_idle_locked(d);
    }
}

static void
add_pipe(dsp_dispatcher *d, nng_pipe pipe)
{
    dsp_daemon *daemon = calloc(1, sizeof(*daemon));

    pthread_mutex_lock(&d->lock);
    if (daemon == NULL || d->is_closing ||
        dsp__id_map_put(&d->daemons, nng_pipe_id(pipe), daemon) != 0) {
        pthread_mutex_unlock(&d->lock);
        free(daemon);
        nng_pipe_close(pipe);
        return;
    }
    daemon->pipe = pipe;
    dsp__list_init(&daemon->idle_node);
    dsp__list_init(&daemon->connected_node);
    dsp__list_init(&daemon->batched_node);
    daemon->max_batch = 1;
    pthread_mutex_unlock(&d->lock);
}

/*
 * The tasks of a lost daemon. A daemon runs its tasks in order, so the
 * first without a result is the one it was running: that one is lost
 * (error value 19) unless it has a retry left. The tasks behind it in its
 * batch most likely had not started. Their results may have been held
 * back when it died, though, so they are queued again as suspects (see
 * dsp_task.is_suspect).
 */
static void
resolve_lost_tasks_locked(dsp_dispatcher *d, dsp_daemon *daemon,
    dsp__batch *batch)
{
    bool is_first = true;
    for (size_t i = daemon->inflight_next; i < daemon->inflight_len; i++) {
        dsp_inflight *entry = &daemon->inflight[i];
        if (entry->has_result) {
            continue;
        }
        bool was_first = is_first;
        is_first = false;
        dsp_task *task = entry->task;
        if (task == NULL) {
            continue; /* resolved already, by a cancel or a timeout */
        }
        bool is_queued = !d->is_closing &&
            (was_first ? dsp__task_requeue_locked(d, task) :
                         dsp__task_return_suspect_locked(d, task));
        if (!is_queued) {
            dsp__task_finish_locked(d, task, DSP_ECONNRESET, NULL, batch);
        }
    }
}

static void
remove_pipe(dsp_dispatcher *d, nng_pipe pipe)
{
    dsp__batch batch;
    dsp__batch_init(&batch);

    pthread_mutex_lock(&d->lock);
    dsp_daemon *daemon = dsp__id_map_remove(&d->daemons, nng_pipe_id(pipe));
    if (daemon == NULL) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    dsp__list_remove(&daemon->idle_node);
    dsp__list_remove(&daemon->connected_node);
    dsp__list_remove(&daemon->batched_node);
    if (daemon->has_hello) {
        d->stats.connections--;
        if (daemon->is_retiring && dsp__daemon_current_task(daemon) == NULL) {
            dsp_log(DSP_LOG_INFO, "DSP-DAEMON-RETIRED",
                "retire daemon %u (pid %" PRIu64 "): pipe %u closed",
                daemon->number, daemon->pid, nng_pipe_id(pipe));
        } else if (!d->is_closing) {
            d->stats.daemons_lost++;
            dsp_log(DSP_LOG_NOTICE, "DSP-DAEMON-LOST",
                "lose daemon %u (pid %" PRIu64 "): pipe %u closed",
                daemon->number, daemon->pid, nng_pipe_id(pipe));
        }
        pthread_cond_broadcast(&d->cond);
    }
    resolve_lost_tasks_locked(d, daemon, &batch);
    free(daemon);
    dsp__pump_idle_locked(d);
    dsp__unlock_and_deliver(d, &batch);
}

void
dsp__pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    dsp_dispatcher *d = arg;

    if (ev == NNG_PIPE_EV_ADD_PRE) {
        add_pipe(d, pipe);
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        remove_pipe(d, pipe);
    }
}

static void
handle_hello_locked(dsp_dispatcher *d, dsp_daemon *daemon, nng_msg *msg,
    const dsp_frame_header *hdr)
{
    if (daemon->has_hello) {
        reject_locked(d, daemon, "second hello from daemon %u",
            daemon->number);
        return;
    }
    if (hdr->payload_len != DSP_HELLO_SHORT_SIZE &&
        hdr->payload_len != DSP_HELLO_SIZE) {
        reject_locked(d, daemon,
            "hello payload has %" PRIu64 " bytes, expected %d or %d",
            hdr->payload_len, DSP_HELLO_SHORT_SIZE, DSP_HELLO_SIZE);
        return;
    }

    const unsigned char *body = nng_msg_body(msg) + DSP_HEADER_SIZE;
    if (hdr->payload_len == DSP_HELLO_SIZE) {
        uint32_t max_batch = dsp__get_u32(body + 8);
        if (max_batch == 0 || dsp__get_u32(body + 12) != 0) {
            reject_locked(d, daemon,
                "hello asks for batches of %" PRIu32 " tasks with "
                "reserved bytes %" PRIu32 ", expected at least 1 and 0",
                max_batch, dsp__get_u32(body + 12));
            return;
        }
        daemon->max_batch =
            max_batch < DSP_MAX_BATCH ? max_batch : DSP_MAX_BATCH;
    }
    daemon->has_hello = true;
    daemon->pid = dsp__get_u64(body);
    daemon->number = ++d->next_daemon_number;
    d->stats.connections++;
    d->stats.daemons_seen++;
    dsp__list_push_back(&d->connected, &daemon->connected_node);
    pthread_cond_broadcast(&d->cond);
    dsp_log(DSP_LOG_INFO, "DSP-DAEMON-HELLO",
        "accept daemon %u (pid %" PRIu64 ") on pipe %u", daemon->number,
        daemon->pid, nng_pipe_id(daemon->pipe));
    dsp__daemon_pump_locked(d, daemon);
}

/*
 * Take the result of a task pending on the daemon. Takes
 * msg: delivers it, or frees it. Returns false when the result broke the
 * protocol, after closing the daemon's pipe.
 */
static bool
consume_result_locked(dsp_dispatcher *d, dsp_daemon *daemon, nng_msg *msg,
    const dsp_frame_header *hdr, dsp__batch *batch)
{
    uint64_t id = hdr->task_id;
    dsp_inflight *entry = dsp__daemon_answer_locked(d, daemon, id);
    if (entry == NULL) {
        reject_locked(d, daemon,
            "result for task %" PRIu64 ", which is not pending on daemon %u",
            id, daemon->number);
        nng_msg_free(msg);
        return false;
    }
    dsp__window_ack(daemon, DSP_FRAME_TASK, id);
    dsp_task *task = entry->task;
    if (task == NULL) {
        nng_msg_free(msg); /* cancelled or timed out meanwhile */
        return true;
    }
    if (hdr->flags != DSP_RESULT_RETURNED) {
        daemon->completed++;
        dsp__task_finish_locked(d, task, DSP_OK, msg, batch);
        return true;
    }
    nng_msg_free(msg);
    if (task->msg == NULL) {
        /* Sent alone without a copy: it cannot be sent again. */
        dsp__task_finish_locked(d, task, DSP_ECONNRESET, NULL, batch);
        reject_locked(d, daemon,
            "gave back task %" PRIu64 ", which was not sent in a batch",
            id);
        return false;
    }
    dsp__task_return_locked(d, task);
    return true;
}

/* Takes msg. */
static void
handle_result_locked(dsp_dispatcher *d, dsp_daemon *daemon, nng_msg *msg,
    const dsp_frame_header *hdr, dsp__batch *batch)
{
    if (consume_result_locked(d, daemon, msg, hdr, batch)) {
        dsp__daemon_pump_locked(d, daemon);
        dsp__pump_idle_locked(d);
    }
}

/* One result of a batch frame as a message of its own, or NULL. */
static nng_msg *
copy_frame(const unsigned char *frame, size_t size)
{
    nng_msg *msg;
    if (nng_msg_alloc(&msg, size) != 0) {
        return NULL;
    }
    memcpy(nng_msg_body(msg), frame, size);
    return msg;
}

/* A batch of results. The caller frees msg. */
static void
handle_batch_locked(dsp_dispatcher *d, dsp_daemon *daemon, nng_msg *msg,
    const dsp_frame_header *hdr, dsp__batch *batch)
{
    if (hdr->flags == 0 || hdr->flags > DSP_MAX_BATCH) {
        reject_locked(d, daemon,
            "batch of %" PRIu32 " results, expected 1 to %d", hdr->flags,
            DSP_MAX_BATCH);
        return;
    }
    const unsigned char *payload =
        (const unsigned char *) nng_msg_body(msg) + DSP_HEADER_SIZE;
    size_t len = (size_t) hdr->payload_len;
    size_t offset = 0;
    uint32_t count = 0;
    while (offset < len) {
        dsp_frame_header sub;
        const unsigned char *frame;
        size_t size;
        enum dsp_wire_status ws =
            dsp_wire_next_frame(payload, len, &offset, &sub, &frame, &size);
        if (ws != DSP_WIRE_OK || sub.type != DSP_FRAME_RESULT ||
            sub.flags > DSP_RESULT_RETURNED || ++count > hdr->flags) {
            reject_locked(d, daemon, "frame %" PRIu32 " of a batch of %"
                PRIu32 ": %s", count + 1, hdr->flags,
                ws != DSP_WIRE_OK ? dsp_wire_strerror(ws) :
                count > hdr->flags ? "more frames than the batch counts" :
                "not a valid result frame");
            return;
        }
        nng_msg *one = copy_frame(frame, size);
        if (one == NULL) {
            reject_locked(d, daemon, "copy result of task %" PRIu64 ": %s",
                sub.task_id, nng_strerror(NNG_ENOMEM));
            return;
        }
        if (!consume_result_locked(d, daemon, one, &sub, batch)) {
            return;
        }
    }
    if (count != hdr->flags) {
        reject_locked(d, daemon, "batch counts %" PRIu32 " results, has %"
            PRIu32, hdr->flags, count);
        return;
    }
    dsp__daemon_pump_locked(d, daemon);
    dsp__pump_idle_locked(d);
}

/*
 * A daemon that reached one of its limits sends an exit frame and waits
 * for one back. It gets no further task or setup; a task already sent
 * to it still runs, and its result arrives before the daemon leaves.
 */
static void
handle_retire_locked(dsp_dispatcher *d, dsp_daemon *daemon)
{
    if (daemon->is_retiring) {
        return;
    }
    daemon->is_retiring = true;
    dsp__list_remove(&daemon->idle_node);
    dsp_log(DSP_LOG_INFO, "DSP-DAEMON-RETIRE",
        "retire daemon %u (pid %" PRIu64 "): requested by the daemon",
        daemon->number, daemon->pid);
    dsp__send_control_locked(d, daemon, DSP_FRAME_EXIT, 0);
}

/* Check a frame's header against what this peer may send now. */
static bool
check_frame_locked(dsp_dispatcher *d, dsp_daemon *daemon, nng_msg *msg,
    dsp_frame_header *hdr)
{
    enum dsp_wire_status ws =
        dsp_wire_decode(nng_msg_body(msg), nng_msg_len(msg), hdr);
    if (ws != DSP_WIRE_OK) {
        reject_locked(d, daemon, "%s", dsp_wire_strerror(ws));
        return false;
    }
    if (!daemon->has_hello && hdr->type != DSP_FRAME_HELLO) {
        reject_locked(d, daemon, "expected hello first, got frame type %u",
            (unsigned) hdr->type);
        return false;
    }
    uint32_t max_flags = hdr->type == DSP_FRAME_RESULT ? DSP_RESULT_RETURNED :
        hdr->type == DSP_FRAME_SETUP ? DSP_RESULT_INTERRUPT : UINT32_MAX;
    if (hdr->type != DSP_FRAME_BATCH && hdr->flags > max_flags) {
        reject_locked(d, daemon, "invalid result flags %" PRIu32,
            hdr->flags);
        return false;
    }
    return true;
}

/* Takes msg. */
static void
handle_frame_locked(dsp_dispatcher *d, nng_msg *msg, dsp__batch *batch)
{
    uint32_t pipe_id = nng_pipe_id(nng_msg_get_pipe(msg));
    dsp_daemon *daemon = dsp__id_map_get(&d->daemons, pipe_id);
    dsp_frame_header hdr;

    /* Late frames from a pipe on its way out, or after close began. */
    if (daemon == NULL || daemon->is_closing || d->is_closing ||
        !check_frame_locked(d, daemon, msg, &hdr)) {
        nng_msg_free(msg);
        return;
    }

    switch (hdr.type) {
    case DSP_FRAME_HELLO:
        handle_hello_locked(d, daemon, msg, &hdr);
        break;
    case DSP_FRAME_RESULT:
        handle_result_locked(d, daemon, msg, &hdr, batch);
        return;
    case DSP_FRAME_SETUP:
        if (dsp__setup_ack_locked(d, daemon, hdr.task_id) != 0) {
            reject_locked(d, daemon,
                "acknowledgement of setup %" PRIu64 " out of order",
                hdr.task_id);
        } else {
            dsp__window_ack(daemon, DSP_FRAME_SETUP, hdr.task_id);
            dsp__daemon_pump_locked(d, daemon);
        }
        break;
    case DSP_FRAME_CANCEL:
        /* Acknowledges a cancel frame; one no longer in the window is
         * harmless, as a later result may have confirmed it first. */
        if (dsp__window_ack(daemon, DSP_FRAME_CANCEL, hdr.task_id)) {
            dsp__daemon_pump_locked(d, daemon);
        }
        break;
    case DSP_FRAME_BATCH:
        handle_batch_locked(d, daemon, msg, &hdr, batch);
        break;
    case DSP_FRAME_RECALL:
        if (dsp__window_ack(daemon, DSP_FRAME_RECALL, 0)) {
            dsp__daemon_pump_locked(d, daemon);
        }
        break;
    case DSP_FRAME_EXIT:
        handle_retire_locked(d, daemon);
        break;
    default:
        reject_locked(d, daemon, "unexpected frame type %u from a daemon",
            (unsigned) hdr.type);
        break;
    }
    nng_msg_free(msg);
}

void
dsp__recv_cb(void *arg)
{
    dsp_dispatcher *d = arg;
    int rv = nng_aio_result(d->recv_aio);

    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
        return;
    }
    if (rv == 0) {
        nng_msg *msg = nng_aio_get_msg(d->recv_aio);
        nng_aio_set_msg(d->recv_aio, NULL);

        dsp__batch batch;
        dsp__batch_init(&batch);
        pthread_mutex_lock(&d->lock);
        handle_frame_locked(d, msg, &batch);
        dsp__unlock_and_deliver(d, &batch);
    } else {
        dsp_log(DSP_LOG_WARN, "DSP-RECV-FAILED", "receive frame: %s",
            nng_strerror(rv));
    }
    /* Under the lock, so that close cannot begin halfway (see close.c). */
    pthread_mutex_lock(&d->lock);
    if (!d->is_socket_closing) {
        nng_recv_aio(d->sock, d->recv_aio);
    }
    pthread_mutex_unlock(&d->lock);
}
