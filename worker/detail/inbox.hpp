// The hand-over between the daemon's NNG threads and its R thread.
//
// NNG callbacks decode frames and put tasks and setups in the inbox; the
// R thread takes them one at a time. Cancel and stop requests also arrive
// here from NNG threads, because the R thread is busy evaluating and cannot
// look at the socket. Only the R thread calls into R; everything else here
// moves messages and flags under one mutex.
#pragma once

#include "dispatcher/wire.h"

#include <nng/nng.h>
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace mirai {
namespace worker {
namespace detail {

// A task or setup frame waiting for the R thread.
struct inbound_frame {
    dsp_frame_header header;
    nng_msg* msg = nullptr;    // the whole frame, owned by the holder
    bool is_cancelled = false; // a cancel came before it started
    bool is_returned = false;  // recalled before it started: give back
    int pipe_id = -1;          // the connection it came on
};

// The outcome of take().
enum class take_result { frame, stopped, timed_out };

class inbox {
public:
    // r_thread is the thread that runs R and will call take().
    explicit inbox(pthread_t r_thread);
    ~inbox();
    inbox(const inbox&) = delete;
    inbox& operator=(const inbox&) = delete;

    // Queue a task or setup frame; the inbox owns frame.msg from now on.
    // Frames that arrive after a stop request are dropped. Any thread.
    void push(const inbound_frame& frame);

    // Queue the tasks of one batch frame together. Any thread.
    void push_all(const std::vector<inbound_frame>& frames);
    // Take every queued task frame out, for a recall. Any thread.
    std::vector<inbound_frame> take_queued_tasks();
    // Put frames taken by take_queued_tasks() back at the front, marked
    // as recalled: the R thread gives them back unevaluated. For when
    // they could not be given back at once. Any thread.
    void push_front_returned(std::vector<inbound_frame> frames);
    // Whether a task or setup frame is waiting, in which case a result
    // just made may be held back for a batch. R thread.
    bool has_queued();
    // Interrupt task_id if it is running, or mark it cancelled if it is
    // queued. An unknown id is ignored: the task may have just finished.
    // Any thread.
    void cancel(std::uint64_t task_id);

    // Ask the daemon to exit with status. An idle R thread returns from
    // take() at once; a busy one is interrupted and, if it has not come
    // back to take() within grace_ms, the process ends with _exit. The
    // first request decides the status. Any thread.
    void request_stop(int status, const char* reason);

    // Ask the daemon to exit with status once the running task (if any)
    // has finished on its own: nothing is interrupted and no grace timer
    // runs. Queued frames are dropped. Any thread.
    void request_finish(int status, const char* reason);

    // Handle an exit frame. Before set_retiring() it is request_stop();
    // after, it is the dispatcher's answer to the retire request, so the
    // frames queued before it still run and the stop comes after them.
    // Any thread.
    void push_exit();

    // Mark the daemon as retiring (it asked the dispatcher to retire it).
    void set_retiring();

    // Block until a frame is queued or deadline passes, and mark a frame
    // taken as running so that a cancel for it interrupts R. Returns
    // stopped once a stop is requested; the daemon must then exit. R
    // thread only.
    take_result take(inbound_frame& frame,
        std::chrono::steady_clock::time_point deadline);

    // Mark the running frame finished, so that a late cancel for it
    // cannot interrupt what runs next. R thread only.
    void finish();

    bool is_stop_requested();
    // Whether a frame is being evaluated (between take() and finish()).
    bool is_running();
    // Wait up to timeout for a stop request; true when one came.
    bool wait_stop_for(std::chrono::milliseconds timeout);
    int exit_status();

    // The R session's temporary directory, removed before an _exit since
    // R cannot clean it up then.
    void set_r_tempdir(const std::string& path);

    static constexpr int grace_ms = 200;

    // How often a cancelled task that is still running is interrupted
    // again. One signal is not enough: evaluate() clears a pending
    // interrupt as it starts, and a SIGINT that lands before Sys.sleep
    // enters select() wakes nothing, so the sleep would run to its end.
    static constexpr int cancel_repeat_ms = 20;

private:
    void stop_locked(int status, const char* reason);
    static void on_grace_expired(void* arg);
    void start_grace_timer();
    static void on_cancel_repeat(void* arg);
    void repeat_cancel_locked();

    pthread_t r_thread_;
    std::mutex lock_;
    std::condition_variable ready_;
    std::deque<inbound_frame> queue_;
    std::uint64_t running_id_ = 0;
    bool is_running_ = false;   // between take() and finish()
    bool is_waiting_ = false;   // the R thread is blocked in take()
    bool is_stopping_ = false;  // a stop was requested
    bool is_exiting_ = false;   // take() returned false; exit is under way
    bool is_retiring_ = false;  // asked to retire: exit frames queue
    int exit_status_ = 0;
    std::string r_tempdir_;
    nng_aio* grace_aio_ = nullptr;
    std::uint64_t cancelling_id_ = 0; // running task being cancelled
    bool is_cancel_armed_ = false;    // cancel_aio_ is sleeping
    nng_aio* cancel_aio_ = nullptr;
};

} // namespace detail
} // namespace worker
} // namespace mirai
