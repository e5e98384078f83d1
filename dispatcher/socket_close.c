/*
 * A close with a deadline: the helper thread and the caller share one
 * record, and whichever of them finishes with it last frees it.
 */
#include "dispatcher/socket_close.h"

#include "dispatcher/detail/deadline.h"
#include "dispatcher/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct close_job {
    nng_socket sock;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool is_done;
    int owners; /* 2 while both the caller and the helper hold it */
} close_job;

static void
release(close_job *job)
{
    pthread_mutex_lock(&job->lock);
    bool is_last = --job->owners == 0;
    pthread_mutex_unlock(&job->lock);
    if (is_last) {
        pthread_cond_destroy(&job->cond);
        pthread_mutex_destroy(&job->lock);
        free(job);
    }
}

static void *
close_main(void *arg)
{
    close_job *job = arg;
    nng_close(job->sock);
    pthread_mutex_lock(&job->lock);
    job->is_done = true;
    pthread_cond_broadcast(&job->cond);
    pthread_mutex_unlock(&job->lock);
    release(job);
    return NULL;
}

static close_job *
job_new(nng_socket sock)
{
    close_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        return NULL;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&job->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&job->lock, NULL);
    job->sock = sock;
    job->owners = 2;
    return job;
}

bool
dsp_socket_close_within(nng_socket sock, int timeout_ms)
{
    close_job *job = job_new(sock);
    pthread_t thread;
    if (job == NULL || pthread_create(&thread, NULL, close_main, job) != 0) {
        /* No thread to spare: close here, with no deadline. */
        if (job != NULL) {
            job->owners = 1;
            release(job);
        }
        nng_close(sock);
        return true;
    }
    pthread_detach(thread);

    struct timespec deadline = dsp__deadline_after(timeout_ms);
    pthread_mutex_lock(&job->lock);
    int rv = 0;
    while (!job->is_done && rv != ETIMEDOUT) {
        rv = pthread_cond_timedwait(&job->cond, &job->lock, &deadline);
    }
    bool is_done = job->is_done;
    pthread_mutex_unlock(&job->lock);
    release(job);

    if (!is_done) {
        dsp_log(DSP_LOG_ERROR, "DSP-CLOSE-STUCK",
            "close socket %d: NNG still busy after %d ms; leaving it open "
            "(a known NNG 1.5.2 fault, nanomsg/nng#1636)",
            nng_socket_id(sock), timeout_ms);
    }
    return is_done;
}
