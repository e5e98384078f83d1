/*
 * The dispatcher's private state and the functions its source files share.
 *
 * One mutex (dsp_dispatcher.lock) guards everything below. Functions
 * named *_locked expect the caller to hold the lock. Completion callbacks never run under the lock:
 * a locked step moves resolved tasks into a dsp__batch, and
 * dsp__unlock_and_deliver calls their callbacks after unlocking.
 */
#pragma once

#include "dispatcher/detail/deadline.h"
#include "dispatcher/detail/id_map.h"
#include "dispatcher/detail/list.h"
#include "dispatcher/dispatcher.h"

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * The most frames sent to one daemon and not yet known to have arrived.
 * NNG 1.5.2's polyamorous pair1 moves each outgoing message from the
 * socket into a per-pipe queue of depth 2 with a non-blocking put, and
 * silently drops the message when that queue is full. A reply from the
 * daemon proves that every frame sent before the one it answers has left
 * the queue, so keeping at most 2 frames unconfirmed means no frame is
 * ever dropped while the pipe lives.
 */
#define DSP_SEND_WINDOW 2

enum dsp_task_state {
    DSP_TASK_QUEUED,  /* in the queue, message still owned */
    DSP_TASK_RUNNING, /* sent to task->daemon */
    DSP_TASK_DONE     /* resolved, waiting in a batch for its callback */
};

typedef struct dsp_daemon dsp_daemon;

typedef struct dsp_task {
    uint64_t id;
    /*
     * The task frame while queued. Once sent it is NULL, unless the task
     * may still be retried: then it is a copy kept for the next attempt.
     */
    nng_msg *msg;
    uint64_t bytes; /* payload length, counted in awaiting_bytes */
    dsp_result_cb cb;
    void *arg;
    enum dsp_task_state state;
    dsp_daemon *daemon; /* the daemon running it, when running */
    dsp__node node;     /* in the queue, then in a batch */
    dsp_result result;  /* filled in when it resolves */
    uint32_t retries_left; /* re-queues left when its daemon is lost */
    /*
     * It waited in a batch behind the task running when its daemon was
     * lost. It most likely never started, but might have run with its
     * result held back, so it is queued again and sent alone: if it is
     * the task that ended the daemon, that shows on the next daemon.
     */
    bool is_suspect;
    nng_time deadline;     /* when it times out, if timer_node is linked */
    dsp__node timer_node;  /* in dsp_dispatcher.timed while it has one */
} dsp_task;

/* A frame sent to a daemon that the daemon has not yet answered. */
typedef struct dsp_sent_frame {
    uint16_t type; /* enum dsp_frame_type */
    uint64_t id;
    uint64_t seq; /* position in the daemon's stream of frames */
} dsp_sent_frame;

/*
 * A task sent to a daemon whose result has not come back. task is NULL
 * once the task resolved another way (cancelled, timed out): its late
 * result is then discarded.
 */
typedef struct dsp_inflight {
    uint64_t id;
    dsp_task *task;
    bool has_result;
} dsp_inflight;

/* One pipe, from NNG_PIPE_EV_ADD_PRE until NNG_PIPE_EV_REM_POST. */
struct dsp_daemon {
    nng_pipe pipe;
    uint32_t number; /* from 1, given at hello */
    uint64_t pid;
    uint32_t max_batch; /* maximum tasks per frame, from its hello */
    bool has_hello;
    bool is_closing; /* its pipe is being closed: ignore it */
    bool is_retiring; /* it asked to retire: send it no more work */
    /*
     * The tasks sent in its last task or batch frame, in the order the
     * daemon runs them. Results come in that order, but tasks given back
     * after a recall may come first. Entries before inflight_next all
     * have their result; the daemon takes new work once every entry has.
     */
    dsp_inflight inflight[DSP_MAX_BATCH];
    size_t inflight_len;
    size_t inflight_next;
    uint64_t batch_sent_ns; /* when that frame was sent, monotonic */
    /* Cancel frames waiting for room in the window. */
    uint64_t cancels[DSP_MAX_BATCH];
    size_t cancel_count;
    bool recall_to_send; /* a recall frame waits for the window */
    bool is_recalled;    /* its current batch was recalled already */
    uint64_t completed;
    size_t setups_sent;  /* index of the next setup to send it */
    size_t setups_acked; /* daemons acknowledge setups in order */
    dsp_sent_frame window[DSP_SEND_WINDOW];
    size_t window_len;
    uint64_t next_seq;
    dsp__node idle_node;      /* in dsp_dispatcher.idle */
    dsp__node connected_node; /* in dsp_dispatcher.connected */
    dsp__node batched_node;   /* in dsp_dispatcher.batched */
};

/* One everywhere() task. */
typedef struct dsp_setup {
    uint64_t id;
    nng_msg *msg; /* the frame, copied for each daemon */
    uint32_t acks; /* daemons that acknowledged it */
} dsp_setup;

/*
 * The aios that sends go through, used in turn. They have no callback, so
 * a finished send wakes no NNG thread. Each aio is waited for just before
 * its next use, by which time its send has finished. Guarded by
 * dsp_dispatcher.lock.
 */
#define DSP_SENDERS 64
typedef struct dsp_sender_pool {
    nng_aio *aios[DSP_SENDERS];
    size_t next;
} dsp_sender_pool;

struct dsp_dispatcher {
    nng_socket sock;
    nng_aio *recv_aio;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* connections, setup acks, users, closing */
    bool is_closing;
    bool is_socket_closing; /* no receive may start: see close.c */
    uint64_t next_id; /* shared by tasks and setups */
    uint32_t next_daemon_number;
    dsp__id_map tasks;   /* id to every unresolved task */
    dsp__id_map daemons; /* pipe id to every known pipe */
    dsp__node queue;     /* queued tasks, oldest first */
    dsp__node idle;      /* daemons ready for a task */
    dsp__node connected; /* daemons that said hello, in hello order */
    dsp__node batched;   /* daemons with a batch whose results are due */
    /*
     * Recent time per task in nanoseconds, from send to result, averaged
     * over batches; 0 until the first result. It sizes the next batch.
     */
    uint64_t task_ns;
    uint64_t batch_budget_ns; /* 0: one task per frame */
    dsp_setup *setups;
    size_t setup_count;
    size_t setup_capacity;
    nng_listener *listeners;
    size_t listener_count;
    dsp__node timed;     /* unresolved tasks with a deadline */
    nng_aio *timer_aio;  /* sleeps until the earliest deadline */
    nng_time timer_due;  /* when timer_aio wakes; 0 before first use */
    /* Blocking calls and callback deliveries in progress; close waits. */
    unsigned users;
    uint64_t queue_budget;   /* bytes, 0 for unlimited */
    pthread_cond_t room;     /* the queue shrank, or closing */
    unsigned room_waiters;   /* submitters waiting on room */
    dsp_stats stats;
    dsp_sender_pool senders;
};

/* Tasks resolved under the lock whose callbacks are still to run. */
typedef struct dsp__batch {
    dsp__node done;
} dsp__batch;

void dsp__batch_init(dsp__batch *batch);

/* Unlock d and run the callbacks of every task in batch, then free them. */
void dsp__unlock_and_deliver(dsp_dispatcher *d, dsp__batch *batch);

/* Resolve a task: unlink it, count it, move it into batch. */
void dsp__task_finish_locked(dsp_dispatcher *d, dsp_task *task, int status,
    nng_msg *msg, dsp__batch *batch);

/* A queued task for msg (ownership taken on success), or NULL. */
dsp_task *dsp__task_new(nng_msg *msg, dsp_result_cb cb, void *arg);

/*
 * Give the task an id and its options (opts may be NULL), register it,
 * queue it and let an idle daemon take it. Returns 0, DSP_ECLOSED or
 * DSP_ENOMEM; on failure the caller still owns task and its message.
 */
int dsp__task_submit_locked(dsp_dispatcher *d, dsp_task *task,
    const dsp_task_options *opts, uint64_t *task_id);

/*
 * Take a task's payload out of the queued bytes as it leaves the queue,
 * and wake submitters waiting for room.
 */
void dsp__queue_release_locked(dsp_dispatcher *d, dsp_task *task);

/*
 * End an unresolved task with status (DSP_ECANCELED, DSP_ETIMEDOUT). A
 * running task's daemon is sent a cancel frame and stays busy until it
 * returns that task's result, so it takes no new task before the old one
 * has stopped.
 */
void dsp__task_abort_locked(dsp_dispatcher *d, dsp_task *task, int status,
    dsp__batch *batch);

/*
 * Put a running task whose daemon was lost back in the queue, in the
 * place of its id, using one of its retries. Returns false when it has
 * none left. Call dsp__pump_idle_locked once the daemon is handled.
 */
bool dsp__task_requeue_locked(dsp_dispatcher *d, dsp_task *task);

/* Queue a task that its daemon gave back unstarted; no retry is used. */
void dsp__task_return_locked(dsp_dispatcher *d, dsp_task *task);

/*
 * Queue a task that waited in a lost daemon's batch behind its first
 * unfinished task (see dsp_task.is_suspect); no retry is used. Returns
 * false when the task has no message left to send again.
 */
bool dsp__task_return_suspect_locked(dsp_dispatcher *d, dsp_task *task);

/* Let idle daemons take queued tasks while both are there. */
void dsp__pump_idle_locked(dsp_dispatcher *d);

/* Deadlines (timer.c). */
int dsp__timer_init(dsp_dispatcher *d);
/* Stop the timer and wait for its callback; is_closing must be set. */
void dsp__timer_fini(dsp_dispatcher *d);
/* Give task a deadline timeout_ms from now and wake the timer if needed. */
void dsp__timer_add_locked(dsp_dispatcher *d, dsp_task *task,
    int64_t timeout_ms);

/*
 * Bring a daemon up to date: send what its window allows (a pending
 * cancel, then setups), then give it the oldest queued task or put it on
 * the idle list.
 */
void dsp__daemon_pump_locked(dsp_dispatcher *d, dsp_daemon *daemon);

/*
 * Give a ready daemon the task at the head of the queue, or a batch of
 * queued tasks (batch.c). The queue must not be empty.
 */
void dsp__daemon_start_work_locked(dsp_dispatcher *d, dsp_daemon *daemon);

/* The entry of task id if its result is still pending, else NULL. */
dsp_inflight *dsp__daemon_pending_entry(dsp_daemon *daemon, uint64_t id);

/*
 * Mark the result of task id as received in the daemon's in-flight list.
 * Returns its entry (whose task is NULL when the task resolved another
 * way), or NULL when no result for id is pending on the daemon.
 */
dsp_inflight *dsp__daemon_answer_locked(dsp_dispatcher *d,
    dsp_daemon *daemon, uint64_t id);

/* Whether results of tasks sent to the daemon are still pending. */
bool dsp__daemon_is_busy(const dsp_daemon *daemon);

/*
 * A daemon has run out of work: ask the daemon with the most pending
 * tasks of a batch to give back those it has not started.
 */
void dsp__recall_for_idle_locked(dsp_dispatcher *d);

/* The first pending task of a daemon that is still unresolved. */
dsp_task *dsp__daemon_current_task(const dsp_daemon *daemon);

/*
 * Forget a resolved task in its daemon's in-flight list, so that its
 * late result is discarded.
 */
void dsp__daemon_forget_task(dsp_daemon *daemon, const dsp_task *task);

/* Close a daemon's pipe after a protocol error; it gets no more frames. */
void dsp__daemon_drop_locked(dsp_dispatcher *d, dsp_daemon *daemon);

/*
 * Count a daemon's acknowledgement of setup_id. Returns 0, or DSP_EPROTO
 * when it is not the next setup that daemon has yet to acknowledge.
 */
int dsp__setup_ack_locked(dsp_dispatcher *d, dsp_daemon *daemon,
    uint64_t setup_id);

/*
 * Leave a blocking call (one that counted itself in users) and unlock.
 * Close waits until no such call is left.
 */
void dsp__leave_locked(dsp_dispatcher *d);

/* Pipe events and the receive loop (daemon.c). */
void dsp__pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg);
void dsp__recv_cb(void *arg);

/* Sending (send.c). */
int dsp__senders_init(dsp_sender_pool *pool);
void dsp__senders_fini(dsp_sender_pool *pool);

/*
 * Send msg (ownership taken) to the daemon's pipe and record it in its
 * window when a reply is expected. Returns 0, or an error after which the
 * message is freed and the daemon dropped.
 */
int dsp__send_frame_locked(dsp_dispatcher *d, dsp_daemon *daemon,
    nng_msg *msg, uint16_t type, uint64_t id);

/* Send a frame with no payload (cancel, exit). */
int dsp__send_control_locked(dsp_dispatcher *d, dsp_daemon *daemon,
    uint16_t type, uint64_t id);

/* Forget every window entry up to and including the one answered. */
bool dsp__window_ack(dsp_daemon *daemon, uint16_t type, uint64_t id);
