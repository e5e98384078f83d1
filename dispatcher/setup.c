/*
 * Setup tasks (everywhere) and the blocking waits.
 *
 * Setups are kept for the dispatcher's whole life, in submission order,
 * because every daemon that connects later must run all of them before
 * its first ordinary task. Each daemon records how many it has been sent
 * and how many it has acknowledged, so a daemon counts once per setup.
 */
#include "dispatcher/detail/core.h"

#include <errno.h>
#include <stdlib.h>

/* The setup with this id, by binary search: ids grow with the index. */
static dsp_setup *
find_setup_locked(dsp_dispatcher *d, uint64_t id)
{
    size_t lo = 0;
    size_t hi = d->setup_count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->setups[mid].id == id) {
            return &d->setups[mid];
        }
        if (d->setups[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

int
dsp__setup_ack_locked(dsp_dispatcher *d, dsp_daemon *daemon,
    uint64_t setup_id)
{
    if (daemon->setups_acked >= daemon->setups_sent ||
        d->setups[daemon->setups_acked].id != setup_id) {
        return DSP_EPROTO;
    }
    d->setups[daemon->setups_acked].acks++;
    daemon->setups_acked++;
    pthread_cond_broadcast(&d->cond);
    return 0;
}

static int
append_setup_locked(dsp_dispatcher *d, nng_msg *msg)
{
    if (d->setup_count == d->setup_capacity) {
        size_t capacity = d->setup_capacity == 0 ? 4 : d->setup_capacity * 2;
        dsp_setup *setups = realloc(d->setups, capacity * sizeof(*setups));
        if (setups == NULL) {
            return DSP_ENOMEM;
        }
        d->setups = setups;
        d->setup_capacity = capacity;
    }

    dsp_setup *setup = &d->setups[d->setup_count++];
    setup->id = d->next_id++;
    setup->msg = msg;
    setup->acks = 0;
    dsp_wire_encode(nng_msg_body(msg), DSP_FRAME_SETUP, setup->id, 0,
        nng_msg_len(msg) - DSP_HEADER_SIZE);
    return 0;
}

int
dsp_dispatcher_everywhere(dsp_dispatcher *d, nng_msg *msg,
    uint64_t *setup_id)
{
    if (msg == NULL) {
        return DSP_EINVAL;
    }
    if (d == NULL || nng_msg_len(msg) < DSP_HEADER_SIZE) {
        nng_msg_free(msg);
        return DSP_EINVAL;
    }

    pthread_mutex_lock(&d->lock);
    int rv = d->is_closing ? DSP_ECLOSED : append_setup_locked(d, msg);
    if (rv != 0) {
        pthread_mutex_unlock(&d->lock);
        nng_msg_free(msg);
        return rv;
    }
    if (setup_id != NULL) {
        *setup_id = d->setups[d->setup_count - 1].id;
    }
    for (dsp__node *node = d->connected.next; node != &d->connected;) {
        dsp_daemon *daemon = DSP__CONTAINER(node, dsp_daemon, connected_node);
        node = node->next;
        dsp__daemon_pump_locked(d, daemon);
    }
    pthread_mutex_unlock(&d->lock);
    return DSP_OK;
}

/* Wait once on d->cond; DSP_ETIMEDOUT when the deadline (if any) passed. */
static int
wait_locked(dsp_dispatcher *d, const struct timespec *deadline)
{
    if (deadline == NULL) {
        pthread_cond_wait(&d->cond, &d->lock);
        return DSP_OK;
    }
    int rv = pthread_cond_timedwait(&d->cond, &d->lock, deadline);
    return rv == ETIMEDOUT ? DSP_ETIMEDOUT : DSP_OK;
}

void
dsp__leave_locked(dsp_dispatcher *d)
{
    d->users--;
    if (d->users == 0 && d->is_closing) {
        pthread_cond_broadcast(&d->cond);
    }
    pthread_mutex_unlock(&d->lock);
}

int
dsp_dispatcher_wait_setup(dsp_dispatcher *d, uint64_t setup_id,
    uint32_t min, int timeout_ms, uint32_t *done)
{
    struct timespec deadline =
        dsp__deadline_after(timeout_ms < 0 ? 0 : timeout_ms);
    int rv = DSP_OK;

    pthread_mutex_lock(&d->lock);
    d->users++;
    for (;;) {
        dsp_setup *setup = find_setup_locked(d, setup_id);
        if (setup == NULL) {
            rv = DSP_ENOENT;
            break;
        }
        if (done != NULL) {
            *done = setup->acks;
        }
        if (setup->acks >= min) {
            rv = DSP_OK;
            break;
        }
        if (d->is_closing || rv == DSP_ETIMEDOUT) {
            rv = d->is_closing ? DSP_ECLOSED : DSP_ETIMEDOUT;
            break;
        }
        rv = wait_locked(d, timeout_ms < 0 ? NULL : &deadline);
    }
    dsp__leave_locked(d);
    return rv;
}

int
dsp_dispatcher_wait_connections(dsp_dispatcher *d, uint32_t n,
    int timeout_ms)
{
    struct timespec deadline =
        dsp__deadline_after(timeout_ms < 0 ? 0 : timeout_ms);
    int rv = DSP_OK;

    pthread_mutex_lock(&d->lock);
    d->users++;
    for (;;) {
        if (d->stats.connections >= n) {
            rv = DSP_OK;
            break;
        }
        if (d->is_closing || rv == DSP_ETIMEDOUT) {
            rv = d->is_closing ? DSP_ECLOSED : DSP_ETIMEDOUT;
            break;
        }
        rv = wait_locked(d, timeout_ms < 0 ? NULL : &deadline);
    }
    dsp__leave_locked(d);
    return rv;
}
