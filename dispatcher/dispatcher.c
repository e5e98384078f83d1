/*
 * The dispatcher's life cycle up to close (close.c): open, listen, and
 * the read-only queries.
 */
#include "dispatcher/detail/core.h"
#include "dispatcher/log.h"

#include <nng/protocol/pair1/pair.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Only ADD_PRE and REM_POST matter; close also clears ADD_POST. */
static const nng_pipe_ev pipe_events[] = {
    NNG_PIPE_EV_ADD_PRE,
    NNG_PIPE_EV_REM_POST,
};

const char *
dsp_strerror(int status)
{
    if (status == DSP_OK) {
        return "no error";
    }
    return nng_strerror(status);
}

static int
init_sync(dsp_dispatcher *d)
{
    pthread_condattr_t attr;

    if (pthread_condattr_init(&attr) != 0) {
        return DSP_ENOMEM;
    }
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rv = pthread_cond_init(&d->cond, &attr);
    if (rv == 0 && (rv = pthread_cond_init(&d->room, &attr)) != 0) {
        pthread_cond_destroy(&d->cond);
    }
    pthread_condattr_destroy(&attr);
    if (rv != 0) {
        return DSP_ENOMEM;
    }
    if (pthread_mutex_init(&d->lock, NULL) != 0) {
        pthread_cond_destroy(&d->cond);
        pthread_cond_destroy(&d->room);
        return DSP_ENOMEM;
    }
    return DSP_OK;
}

/* Frames the socket may hold for the receive loop (NNG's maximum). */
#define DSP_RECV_QUEUE 8192

/* Open the socket and start the receive loop. */
static int
start_socket(dsp_dispatcher *d)
{
    int rv = nng_pair1_open_poly(&d->sock);
    if (rv != 0) {
        return rv;
    }
    /*
     * A deep receive queue lets each pipe hand its message up at once. In
     * NNG 1.5.2 a pipe whose hand-up completes after the pipe has closed
     * restarts a receive that nothing can finish, and the next nng_close
     * then waits for it for good (nanomsg/nng#1636, fixed after 1.5.2).
     * Keeping the hand-up short makes that window tiny.
     */
    rv = nng_socket_set_int(d->sock, NNG_OPT_RECVBUF, DSP_RECV_QUEUE);
    if (rv == 0) {
        /* No size limit: payloads of several GiB must arrive whole. */
        rv = nng_socket_set_size(d->sock, NNG_OPT_RECVMAXSZ, 0);
    }
    for (size_t i = 0; i < 2 && rv == 0; i++) {
        rv = nng_pipe_notify(d->sock, pipe_events[i], dsp__pipe_cb, d);
    }
    if (rv == 0) {
        rv = nng_aio_alloc(&d->recv_aio, dsp__recv_cb, d);
    }
    if (rv != 0) {
        nng_close(d->sock);
        return rv;
    }
    nng_recv_aio(d->sock, d->recv_aio);
    return DSP_OK;
}

int
dsp_dispatcher_open(dsp_dispatcher **dp)
{
    if (dp == NULL) {
        return DSP_EINVAL;
    }
    dsp_dispatcher *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return DSP_ENOMEM;
    }
    d->next_id = 1;
    dsp__id_map_init(&d->tasks);
    dsp__id_map_init(&d->daemons);
    dsp__list_init(&d->queue);
    dsp__list_init(&d->idle);
    dsp__list_init(&d->connected);
    dsp__list_init(&d->batched);
    d->batch_budget_ns = (uint64_t) DSP_BATCH_BUDGET_US * 1000U;

    int rv = init_sync(d);
    if (rv != 0) {
        goto free_d;
    }
    if ((rv = dsp__senders_init(&d->senders)) != 0) {
        goto fini_sync;
    }
    if ((rv = dsp__timer_init(d)) != 0) {
        goto fini_senders;
    }
    if ((rv = start_socket(d)) != 0) {
        goto fini_timer;
    }
    *dp = d;
    return DSP_OK;

fini_timer:
    nng_aio_free(d->timer_aio);
fini_senders:
    dsp__senders_fini(&d->senders);
fini_sync:
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    pthread_cond_destroy(&d->room);
free_d:
    free(d);
    return rv;
}

/* Write the URL a listener is bound to, with the port NNG chose. */
static int
write_bound_url(nng_listener l, const char *url, char *out, size_t len)
{
    int port = 0;
    int n;

    if (strncmp(url, "tcp", 3) == 0 &&
        nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) == 0) {
        const char *colon = strrchr(url, ':');
        int host_len = (int) (colon - url);
        n = snprintf(out, len, "%.*s:%d", host_len, url, port);
    } else {
        n = snprintf(out, len, "%s", url);
    }
    return n < 0 || (size_t) n >= len ? DSP_EINVAL : DSP_OK;
}

static int
remember_listener(dsp_dispatcher *d, nng_listener l)
{
    pthread_mutex_lock(&d->lock);
    nng_listener *all = d->is_closing ? NULL
                                      : realloc(d->listeners,
                                            (d->listener_count + 1) *
                                                sizeof(*all));
    int rv = d->is_closing ? DSP_ECLOSED : DSP_ENOMEM;
    if (all != NULL) {
        d->listeners = all;
        d->listeners[d->listener_count++] = l;
        rv = DSP_OK;
    }
    pthread_mutex_unlock(&d->lock);
    return rv;
}

int
dsp_dispatcher_listen(dsp_dispatcher *d, const char *url, char *bound_url,
    size_t bound_len)
{
    if (d == NULL || url == NULL) {
        return DSP_EINVAL;
    }
    nng_listener l;
    int rv = nng_listener_create(&l, d->sock, url);
    if (rv != 0) {
        return rv;
    }
    if ((rv = nng_listener_start(l, 0)) == 0 && bound_url != NULL) {
        rv = write_bound_url(l, url, bound_url, bound_len);
    }
    if (rv == 0) {
        rv = remember_listener(d, l);
    }
    if (rv != 0) {
        nng_listener_close(l);
    }
    return rv;
}

void
dsp_dispatcher_stats(dsp_dispatcher *d, dsp_stats *stats)
{
    pthread_mutex_lock(&d->lock);
    *stats = d->stats;
    pthread_mutex_unlock(&d->lock);
}

void
dsp_dispatcher_daemons(dsp_dispatcher *d, dsp_daemon_info *out, size_t cap,
    size_t *count)
{
    size_t n = 0;

    pthread_mutex_lock(&d->lock);
    for (dsp__node *node = d->connected.next; node != &d->connected;
         node = node->next, n++) {
        if (n >= cap || out == NULL) {
            continue;
        }
        dsp_daemon *daemon = DSP__CONTAINER(node, dsp_daemon, connected_node);
        out[n].id = daemon->number;
        out[n].pid = daemon->pid;
        dsp_task *task = dsp__daemon_current_task(daemon);
        out[n].task_id = task != NULL ? task->id : 0;
        out[n].completed = daemon->completed;
    }
    pthread_mutex_unlock(&d->lock);
    if (count != NULL) {
        *count = n;
    }
}
