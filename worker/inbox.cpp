// The inbox's locking rules: every field is guarded by lock_, and the R
// thread never holds the lock while it evaluates, so NNG callbacks wait
// at most for a queue operation.
#include "worker/detail/inbox.hpp"

#include "dispatcher/log.h"
#include "worker/detail/process_group.hpp"
#include "worker/detail/r_interrupt.hpp"

#include <ftw.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>

namespace mirai {
namespace worker {
namespace detail {

namespace {

// How long take() polls for a frame before it sleeps. The host polls as
// long for a result (handle.cpp): together they took the bench's median
// round trip of a small task from 204-224 us to 137-169 us on a 2-core
// VM, with the map's time per task unchanged.
constexpr std::chrono::microseconds frame_spin_limit(250);

int remove_entry(const char* path, const struct stat*, int, struct FTW* at)
{
    if (at->level > 0) {
        std::remove(path);
    }
    return 0;
}

// Empty a directory tree without R, for the _exit path where R is still
// busy on its own thread and cannot run its own clean-up. The top stays:
// under RInside, R's tempdir() is TMPDIR itself, which the launcher owns.
void empty_tree(const std::string& path)
{
    if (path.empty()) {
        return;
    }
    nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

} // namespace

inbox::inbox(pthread_t r_thread) : r_thread_(r_thread)
{
}

inbox::~inbox()
{
    // nng_aio_free waits for a running grace callback, which takes lock_,
    // so the lock must not be held here.
    if (grace_aio_ != nullptr) {
        nng_aio_free(grace_aio_);
    }
    if (cancel_aio_ != nullptr) {
        nng_aio_free(cancel_aio_);
    }
    for (inbound_frame& frame : queue_) {
        if (frame.msg != nullptr) {
            nng_msg_free(frame.msg);
        }
    }
}

void inbox::push(const inbound_frame& frame)
{
    std::lock_guard<std::mutex> guard(lock_);
    if (is_stopping_) {
        nng_msg_free(frame.msg);
        return;
    }
    queue_.push_back(frame);
    ready_.notify_one();
}

void inbox::push_all(const std::vector<inbound_frame>& frames)
{
    std::lock_guard<std::mutex> guard(lock_);
    if (is_stopping_) {
        for (const inbound_frame& frame : frames) {
            nng_msg_free(frame.msg);
        }
        return;
    }
    queue_.insert(queue_.end(), frames.begin(), frames.end());
    ready_.notify_one();
}

std::vector<inbound_frame> inbox::take_queued_tasks()
{
    std::lock_guard<std::mutex> guard(lock_);
    std::vector<inbound_frame> tasks;
    std::deque<inbound_frame> rest;
    for (inbound_frame& frame : queue_) {
        if (frame.header.type == DSP_FRAME_TASK) {
            tasks.push_back(frame);
        } else {
            rest.push_back(frame);
        }
    }
    queue_.swap(rest);
    return tasks;
}

void inbox::push_front_returned(std::vector<inbound_frame> frames)
{
    std::lock_guard<std::mutex> guard(lock_);
    if (is_stopping_) {
        for (const inbound_frame& frame : frames) {
            nng_msg_free(frame.msg);
        }
        return;
    }
    for (inbound_frame& frame : frames) {
        frame.is_returned = true;
    }
    queue_.insert(queue_.begin(), frames.begin(), frames.end());
    ready_.notify_one();
}

bool inbox::has_queued()
{
    std::lock_guard<std::mutex> guard(lock_);
    return !queue_.empty() && queue_.front().header.type != DSP_FRAME_EXIT;
}

void inbox::cancel(std::uint64_t task_id)
{
    std::lock_guard<std::mutex> guard(lock_);
    if (is_running_ && running_id_ == task_id) {
        dsp_log(DSP_LOG_INFO, "WORKER-TASK-CANCEL",
            "cancel task %llu: interrupting the running evaluation",
            (unsigned long long) task_id);
        interrupt_r(r_thread_);
        cancelling_id_ = task_id;
        repeat_cancel_locked();
        return;
    }
    for (inbound_frame& frame : queue_) {
        if (frame.header.task_id == task_id) {
            frame.is_cancelled = true;
        }
    }
}

// Called with lock_ held. Without the timer the first signal must do.
void inbox::repeat_cancel_locked()
{
    if (is_cancel_armed_) {
        return;
    }
    if (cancel_aio_ == nullptr &&
        nng_aio_alloc(&cancel_aio_, on_cancel_repeat, this) != 0) {
        cancel_aio_ = nullptr;
        dsp_log(DSP_LOG_WARN, "WORKER-TASK-CANCEL",
            "cancel task %llu: start repeat timer: out of memory",
            (unsigned long long) cancelling_id_);
        return;
    }
    is_cancel_armed_ = true;
    nng_sleep_aio(cancel_repeat_ms, cancel_aio_);
}

void inbox::on_cancel_repeat(void* arg)
{
    inbox* self = static_cast<inbox*>(arg);
    std::lock_guard<std::mutex> guard(self->lock_);
    self->is_cancel_armed_ = false;
    if (nng_aio_result(self->cancel_aio_) != 0) {
        return; // stopped by nng_aio_free
    }
    if (self->is_running_ && self->cancelling_id_ != 0 &&
        self->running_id_ == self->cancelling_id_) {
        interrupt_r(self->r_thread_);
        self->repeat_cancel_locked();
    }
}

// Called with lock_ held, before any stop was requested.
void inbox::stop_locked(int status, const char* reason)
{
    dsp_log(DSP_LOG_INFO, "WORKER-STOP", "stop daemon: %s, exit status %d",
        reason, status);
    is_stopping_ = true;
    exit_status_ = status;
    for (inbound_frame& frame : queue_) {
        if (frame.msg != nullptr) {
            nng_msg_free(frame.msg);
        }
    }
    queue_.clear();
    ready_.notify_one();
}

void inbox::set_retiring()
{
    std::lock_guard<std::mutex> guard(lock_);
    is_retiring_ = true;
}

void inbox::push_exit()
{
    {
        std::lock_guard<std::mutex> guard(lock_);
        if (is_retiring_ && !is_stopping_) {
            // A marker without a message: take() stops when it reaches it.
            inbound_frame marker{};
            marker.header.type = DSP_FRAME_EXIT;
            queue_.push_back(marker);
            ready_.notify_one();
            return;
        }
    }
    request_stop(0, "exit frame received");
}

void inbox::request_finish(int status, const char* reason)
{
    std::lock_guard<std::mutex> guard(lock_);
    if (!is_stopping_) {
        stop_locked(status, reason);
    }
}

void inbox::request_stop(int status, const char* reason)
{
    std::lock_guard<std::mutex> guard(lock_);
    if (is_stopping_) {
        return;
    }
    stop_locked(status, reason);
    if (is_waiting_) {
        return;
    }
    if (is_running_) {
        interrupt_r(r_thread_);
    }
    start_grace_timer();
}

// Called with lock_ held.
void inbox::start_grace_timer()
{
    int rv = nng_aio_alloc(&grace_aio_, on_grace_expired, this);
    if (rv != 0) {
        // Without a timer the stop still happens when R comes back.
        dsp_log(DSP_LOG_WARN, "WORKER-STOP",
            "start exit grace timer: %s", nng_strerror(rv));
        grace_aio_ = nullptr;
        return;
    }
    nng_sleep_aio(grace_ms, grace_aio_);
}

void inbox::on_grace_expired(void* arg)
{
    inbox* self = static_cast<inbox*>(arg);
    std::lock_guard<std::mutex> guard(self->lock_);
    if (nng_aio_result(self->grace_aio_) != 0) {
        return; // cancelled by nng_aio_free during an orderly exit
    }
    if (self->is_exiting_ || self->is_waiting_) {
        return;
    }

    // R is stuck in code that does not check for interrupts. It cannot be
    // unwound from this thread, so end the process without R's clean-up.
    dsp_log(DSP_LOG_NOTICE, "WORKER-STOP",
        "stop daemon: R still busy after %d ms, exiting without clean-up",
        grace_ms);
    std::fflush(stdout);
    empty_tree(self->r_tempdir_);
    end_process_group();
    _exit(self->exit_status_);
}

take_result inbox::take(inbound_frame& frame,
    std::chrono::steady_clock::time_point deadline)
{
    std::unique_lock<std::mutex> guard(lock_);
    auto has_work = [this] { return is_stopping_ || !queue_.empty(); };
    is_waiting_ = true;
    // Poll briefly before sleeping, because the next task of a
    // sequential caller usually follows within a round trip, and a
    // sleeping thread's wake-up is a good part of one.
    auto spin_until = std::chrono::steady_clock::now() + frame_spin_limit;
    while (!has_work() && std::chrono::steady_clock::now() < spin_until) {
        guard.unlock();
        sched_yield();
        guard.lock();
    }
    bool is_ready = true;
    if (deadline == std::chrono::steady_clock::time_point::max()) {
        ready_.wait(guard, has_work);
    } else {
        is_ready = ready_.wait_until(guard, deadline, has_work);
    }
    is_waiting_ = false;
    if (is_stopping_) {
        is_exiting_ = true;
        return take_result::stopped;
    }
    if (!is_ready) {
        return take_result::timed_out;
    }
    if (queue_.front().header.type == DSP_FRAME_EXIT) {
        queue_.pop_front();
        stop_locked(0, "exit frame received after retiring");
        is_exiting_ = true;
        return take_result::stopped;
    }

    frame = queue_.front();
    queue_.pop_front();
    running_id_ = frame.header.task_id;
    is_running_ = true;
    cancelling_id_ = 0;
    clear_interrupt();
    return take_result::frame;
}

void inbox::finish()
{
    std::lock_guard<std::mutex> guard(lock_);
    is_running_ = false;
    cancelling_id_ = 0;
    clear_interrupt();
}

bool inbox::is_stop_requested()
{
    std::lock_guard<std::mutex> guard(lock_);
    return is_stopping_;
}

bool inbox::is_running()
{
    std::lock_guard<std::mutex> guard(lock_);
    return is_running_;
}

bool inbox::wait_stop_for(std::chrono::milliseconds timeout)
{
    std::unique_lock<std::mutex> guard(lock_);
    return ready_.wait_for(guard, timeout, [this] { return is_stopping_; });
}

int inbox::exit_status()
{
    std::lock_guard<std::mutex> guard(lock_);
    return exit_status_;
}

void inbox::set_r_tempdir(const std::string& path)
{
    std::lock_guard<std::mutex> guard(lock_);
    r_tempdir_ = path;
}

} // namespace detail
} // namespace worker
} // namespace mirai
