/*
 * Closing a dispatcher. The order matters: tasks resolve first, while
 * daemons can still be told to exit; then NNG is stopped, callback by
 * callback, so that nothing can reach the structure once it is freed.
 */
#include "dispatcher/detail/core.h"
#include "dispatcher/log.h"
#include "dispatcher/socket_close.h"

#include <stdlib.h>

/*
 * How long close waits for daemons to hang up after their exit frame.
 * Closing the socket sooner could discard exit frames still in NNG's
 * queues; a daemon that ignores the frame delays close by this much.
 */
#define DSP_CLOSE_LINGER_MS 500

/*
 * Resolve every task with DSP_ECONNRESET and send each daemon an exit
 * frame. The exit frame bypasses the window: nothing follows it.
 */
static void
resolve_all_locked(dsp_dispatcher *d, dsp__batch *batch)
{
    dsp__node *node;

    while ((node = d->queue.next) != &d->queue) {
        dsp__task_finish_locked(d, DSP__CONTAINER(node, dsp_task, node),
            DSP_ECONNRESET, NULL, batch);
    }
    for (node = d->connected.next; node != &d->connected;
         node = node->next) {
        dsp_daemon *daemon = DSP__CONTAINER(node, dsp_daemon, connected_node);
        dsp_task *task;
        while ((task = dsp__daemon_current_task(daemon)) != NULL) {
            dsp__task_finish_locked(d, task, DSP_ECONNRESET, NULL, batch);
        }
        if (!daemon->is_closing) {
            dsp__send_control_locked(d, daemon, DSP_FRAME_EXIT, 0);
        }
    }
}

/* Give daemons up to DSP_CLOSE_LINGER_MS to read their exit frame. */
static void
linger_locked(dsp_dispatcher *d)
{
    struct timespec deadline = dsp__deadline_after(DSP_CLOSE_LINGER_MS);

    while (d->stats.connections > 0) {
        if (pthread_cond_timedwait(&d->cond, &d->lock, &deadline) != 0) {
            break;
        }
    }
}

static void
free_daemon(void *arg, void *value)
{
    (void) arg;
    free(value);
}

static void
free_all(dsp_dispatcher *d)
{
    dsp__id_map_each(&d->daemons, free_daemon, NULL);
    dsp__id_map_fini(&d->daemons);
    dsp__id_map_fini(&d->tasks);
    for (size_t i = 0; i < d->setup_count; i++) {
        nng_msg_free(d->setups[i].msg);
    }
    free(d->setups);
    free(d->listeners);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    pthread_cond_destroy(&d->room);
    free(d);
}

/* How long close waits for NNG to let go of the socket. */
#define DSP_CLOSE_SOCKET_MS 3000

/*
 * Stop NNG's callbacks into d, each one waited for. Returns false when
 * NNG could not close the socket in time: d must then stay allocated,
 * since NNG may still call into it.
 */
static bool
stop_nng(dsp_dispatcher *d)
{
    /*
     * NNG 1.5.2 runs a pipe's REM_POST callback before it unlinks the
     * pipe from its socket, and nng_close waits until no pipe is linked,
     * so no pipe callback is running or can start once nng_close returns.
     */
    /*
     * No receive may be started once the close begins: NNG 1.5.2 can
     * queue it on a socket queue it is freeing and then abort the process
     * on a destroyed mutex. The receive loop checks this flag under the
     * lock before it starts the next receive.
     */
    pthread_mutex_lock(&d->lock);
    d->is_socket_closing = true;
    pthread_mutex_unlock(&d->lock);
    if (!dsp_socket_close_within(d->sock, DSP_CLOSE_SOCKET_MS)) {
        return false;
    }
    nng_aio_stop(d->recv_aio);
    nng_aio_free(d->recv_aio);
    dsp__timer_fini(d);
    dsp__senders_fini(&d->senders);
    return true;
}

void
dsp_dispatcher_close(dsp_dispatcher *d)
{
    if (d == NULL) {
        return;
    }
    dsp__batch batch;
    dsp__batch_init(&batch);

    pthread_mutex_lock(&d->lock);
    d->is_closing = true;
    size_t listener_count = d->listener_count;
    resolve_all_locked(d, &batch);
    pthread_cond_broadcast(&d->cond);
    pthread_cond_broadcast(&d->room);
    dsp__unlock_and_deliver(d, &batch);

    /* listen fails once is_closing is set, so the array is stable. */
    for (size_t i = 0; i < listener_count; i++) {
        nng_listener_close(d->listeners[i]);
    }

    pthread_mutex_lock(&d->lock);
    linger_locked(d);
    pthread_mutex_unlock(&d->lock);

    if (!stop_nng(d)) {
        return; /* d is leaked on purpose: see stop_nng */
    }

    pthread_mutex_lock(&d->lock);
    while (d->users > 0) {
        pthread_cond_wait(&d->cond, &d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    free_all(d);
}
