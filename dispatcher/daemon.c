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

static void
start_task_locked(dsp_dispatcher *d, dsp_daemon *daemon, dsp_task *task)
{
    task->state = DSP_TASK_RUNNING;
    task->daemon = daemon;
    daemon->task = task;
    d->stats.awaiting--;
    d->stats.executing++;
    dsp__queue_release_locked(d, task);

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
dsp__daemon_pump_locked(dsp_dispatcher *d, dsp_daemon *daemon)
{
    if (!daemon->has_hello || daemon->is_closing || d->is_closing) {
        return;
    }
    if (daemon->cancel_to_send != 0 && daemon->window_len < DSP_SEND_WINDOW) {
        uint64_t id = daemon->cancel_to_send;
        daemon->cancel_to_send = 0;
        dsp__send_control_locked(d, daemon, DSP_FRAME_CANCEL, id);
    }
    if (daemon->is_retiring) {
        dsp__list_remove(&daemon->idle_node);
        return;
    }
    send_setups_locked(d, daemon);

    bool is_ready = !daemon->is_closing && daemon->task == NULL &&
        daemon->cancelled_id == 0 && daemon->setups_sent == d->setup_count &&
        daemon->window_len < DSP_SEND_WINDOW;
    if (!is_ready) {
        dsp__list_remove(&daemon->idle_node);
        return;
    }

    dsp__node *node = dsp__list_pop_front(&d->queue);
    if (node != NULL) {
        dsp__list_remove(&daemon->idle_node);
        start_task_locked(d, daemon, DSP__CONTAINER(node, dsp_task, node));
    } else if (!dsp__node_linked(&daemon->idle_node)) {
        dsp__list_push_back(&d->idle, &daemon->idle_node);
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
    pthread_mutex_unlock(&d->lock);
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
    if (daemon->has_hello) {
        d->stats.connections--;
        if (daemon->is_retiring && daemon->task == NULL) {
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
    if (daemon->task != NULL &&
        (d->is_closing || !dsp__task_requeue_locked(d, daemon->task))) {
        dsp__task_finish_locked(d, daemon->task, DSP_ECONNRESET, NULL,
            &batch);
    }
    free(daemon);
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
    if (hdr->payload_len != 8) {
        reject_locked(d, daemon,
            "hello payload has %" PRIu64 " bytes, expected 8",
            hdr->payload_len);
        return;
    }

    const unsigned char *body = nng_msg_body(msg);
    daemon->has_hello = true;
    daemon->pid = dsp__get_u64(body + DSP_HEADER_SIZE);
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

/* Takes msg: delivers it, or frees it. */
static void
handle_result_locked(dsp_dispatcher *d, dsp_daemon *daemon, nng_msg *msg,
    const dsp_frame_header *hdr, dsp__batch *batch)
{
    uint64_t id = hdr->task_id;
    dsp_task *task = daemon->task;

    if (task != NULL && task->id == id) {
        dsp__window_ack(daemon, DSP_FRAME_TASK, id);
        daemon->completed++;
        dsp__task_finish_locked(d, task, DSP_OK, msg, batch);
    } else if (daemon->cancelled_id != 0 && daemon->cancelled_id == id) {
        dsp__window_ack(daemon, DSP_FRAME_TASK, id);
        daemon->cancelled_id = 0;
        daemon->cancel_to_send = 0;
        nng_msg_free(msg);
    } else {
        reject_locked(d, daemon,
            "result for task %" PRIu64 ", which daemon %u is not running",
            id, daemon->number);
        nng_msg_free(msg);
        return;
    }
    dsp__daemon_pump_locked(d, daemon);
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
    if ((hdr->type == DSP_FRAME_RESULT || hdr->type == DSP_FRAME_SETUP) &&
        hdr->flags > DSP_RESULT_INTERRUPT) {
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
