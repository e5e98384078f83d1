/*
 * Task deadlines.
 *
 * One NNG sleep aio per dispatcher serves every task that has a timeout;
 * no task gets a thread or an aio of its own. Once armed, the timer always
 * sleeps until the earliest deadline, or for DSP_TIMER_IDLE_MS when no
 * task has one, and its callback re-arms it. A task whose deadline is
 * earlier than the one the timer sleeps towards cancels the sleep, and the
 * callback, which then runs with NNG_ECANCELED, re-arms it from the list.
 *
 * NNG 1.5.2 runs an aio's callback on its task queue, never inside
 * nng_sleep_aio or nng_aio_cancel, so both may be called with the lock
 * held. Holding the lock there also means close cannot free the aio under
 * a caller's feet.
 */
#include "dispatcher/detail/core.h"
#include "dispatcher/log.h"

#include <inttypes.h>

/* How long the timer sleeps when no task has a deadline. */
#define DSP_TIMER_IDLE_MS 3600000

/* Expire due tasks; return the next deadline, or the idle wake-up time. */
static nng_time
expire_due_locked(dsp_dispatcher *d, nng_time now, dsp__batch *batch)
{
    nng_time next = now + DSP_TIMER_IDLE_MS;
    dsp__node *node = d->timed.next;

    while (node != &d->timed) {
        dsp_task *task = DSP__CONTAINER(node, dsp_task, timer_node);
        node = node->next;
        if (task->deadline <= now) {
            dsp_log(DSP_LOG_INFO, "DSP-TASK-TIMEOUT",
                "time out task %" PRIu64 ": deadline passed", task->id);
            dsp__task_abort_locked(d, task, DSP_ETIMEDOUT, batch);
        } else if (task->deadline < next) {
            next = task->deadline;
        }
    }
    return next;
}

static void
timer_cb(void *arg)
{
    dsp_dispatcher *d = arg;
    dsp__batch batch;
    dsp__batch_init(&batch);

    pthread_mutex_lock(&d->lock);
    if (d->is_closing) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    nng_time now = nng_clock();
    nng_time next = expire_due_locked(d, now, &batch);
    d->timer_due = next;
    nng_sleep_aio((nng_duration) (next - now), d->timer_aio);
    dsp__unlock_and_deliver(d, &batch);
}

int
dsp__timer_init(dsp_dispatcher *d)
{
    dsp__list_init(&d->timed);
    d->timer_due = 0;
    return nng_aio_alloc(&d->timer_aio, timer_cb, d);
}

void
dsp__timer_fini(dsp_dispatcher *d)
{
    nng_aio_stop(d->timer_aio);
    nng_aio_free(d->timer_aio);
}

void
dsp__timer_add_locked(dsp_dispatcher *d, dsp_task *task, int64_t timeout_ms)
{
    task->deadline = nng_clock() + (nng_time) timeout_ms;
    dsp__list_push_back(&d->timed, &task->timer_node);

    if (d->timer_due == 0) {
        /* First use: from now on the callback keeps the timer armed. */
        d->timer_due = task->deadline;
        nng_sleep_aio((nng_duration) timeout_ms, d->timer_aio);
    } else if (task->deadline < d->timer_due) {
        d->timer_due = task->deadline;
        nng_aio_cancel(d->timer_aio);
    }
}
