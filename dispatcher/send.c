/*
 * Sending frames to daemons.
 *
 * Every send goes through nng_send_aio, so no thread ever blocks on a
 * send, not even an NNG callback thread. The aio completes once the
 * socket has handed the message on to the pipe's queue, which pair1 poly
 * does at once. The window in each dsp_daemon (see DSP_SEND_WINDOW)
 * makes sure that queue always has room, because NNG 1.5.2's
 * polyamorous pair1 drops a message for a full queue without telling the
 * sender.
 */
#include "dispatcher/detail/core.h"
#include "dispatcher/log.h"

#include <assert.h>
#include <stdlib.h>

/* After a send has finished: a message NNG did not take is ours to free. */
static void
reclaim(nng_aio *aio)
{
    nng_aio_wait(aio);
    if (nng_aio_result(aio) != 0) {
        nng_msg_free(nng_aio_get_msg(aio));
    }
    nng_aio_set_msg(aio, NULL);
}

int
dsp__senders_init(dsp_sender_pool *pool)
{
    pool->next = 0;
    for (size_t i = 0; i < DSP_SENDERS; i++) {
        if (nng_aio_alloc(&pool->aios[i], NULL, NULL) != 0) {
            while (i > 0) {
                nng_aio_free(pool->aios[--i]);
            }
            return DSP_ENOMEM;
        }
    }
    return DSP_OK;
}

/* Wait for every send in flight, then free the pool. */
void
dsp__senders_fini(dsp_sender_pool *pool)
{
    for (size_t i = 0; i < DSP_SENDERS; i++) {
        reclaim(pool->aios[i]);
        nng_aio_free(pool->aios[i]);
    }
}

static bool
expects_window(uint16_t type)
{
    return type == DSP_FRAME_TASK || type == DSP_FRAME_SETUP ||
        type == DSP_FRAME_CANCEL || type == DSP_FRAME_RECALL;
}

int
dsp__send_frame_locked(dsp_dispatcher *d, dsp_daemon *daemon,
    nng_msg *msg, uint16_t type, uint64_t id)
{
    nng_aio *aio = d->senders.aios[d->senders.next];
    d->senders.next = (d->senders.next + 1) % DSP_SENDERS;
    reclaim(aio);

    /*
     * Cancel and recall frames are acknowledged as soon as they are read,
     * and until then occupy the pipe's queue like any other frame.
     */
    if (expects_window(type)) {
        assert(daemon->window_len < DSP_SEND_WINDOW);
        dsp_sent_frame *sent = &daemon->window[daemon->window_len++];
        sent->type = type;
        sent->id = id;
        sent->seq = daemon->next_seq;
    }
    daemon->next_seq++;

    nng_msg_set_pipe(msg, daemon->pipe);
    nng_aio_set_msg(aio, msg);
    nng_send_aio(d->sock, aio);
    return 0;
}

int
dsp__send_control_locked(dsp_dispatcher *d, dsp_daemon *daemon,
    uint16_t type, uint64_t id)
{
    nng_msg *msg;
    int rv = nng_msg_alloc(&msg, DSP_HEADER_SIZE);
    if (rv != 0) {
        dsp_log(DSP_LOG_ERROR, "DSP-SEND-FAILED",
            "send frame to daemon %u on pipe %u: %s", daemon->number,
            nng_pipe_id(daemon->pipe), nng_strerror(rv));
        dsp__daemon_drop_locked(d, daemon);
        return rv;
    }
    dsp_wire_encode(nng_msg_body(msg), (enum dsp_frame_type) type, id, 0, 0);
    return dsp__send_frame_locked(d, daemon, msg, type, id);
}

bool
dsp__window_ack(dsp_daemon *daemon, uint16_t type, uint64_t id)
{
    size_t found = daemon->window_len;
    for (size_t i = 0; i < daemon->window_len; i++) {
        if (daemon->window[i].type == type && daemon->window[i].id == id) {
            found = i;
            break;
        }
    }
    if (found == daemon->window_len) {
        return false;
    }

    /* The daemon read every earlier frame before the one it answered. */
    size_t keep = daemon->window_len - (found + 1);
    for (size_t i = 0; i < keep; i++) {
        daemon->window[i] = daemon->window[found + 1 + i];
    }
    daemon->window_len = keep;
    return true;
}
