// The lock keeps the R thread and the timer thread from sending at the
// same time, so that results leave in the order the tasks ran.
#include "worker/detail/reply_batch.hpp"

#include "dispatcher/batch_frame.h"
#include "dispatcher/log.h"
#include "dispatcher/wire.h"
#include "worker/detail/r_interrupt.hpp"


namespace mirai {
namespace worker {
namespace detail {

reply_batch::reply_batch(connection& conn) : conn_(conn)
{
    held_.reserve(DSP_MAX_BATCH);
    timer_ = std::thread([this] { run_timer(); });
}

reply_batch::~reply_batch()
{
    {
        std::lock_guard<std::mutex> guard(lock_);
        is_stopping_ = true;
        drop_locked();
    }
    timer_wake_.notify_one();
    timer_.join();
}

// Sleeps until results are held, then until they are due. The R thread
// wakes it only when the first result of a batch is held.
void reply_batch::run_timer()
{
    block_interrupt_signal(); // interrupts are for the R thread alone
    std::unique_lock<std::mutex> guard(lock_);
    while (!is_stopping_) {
        if (held_.empty()) {
            timer_wake_.wait(guard);
        } else if (std::chrono::steady_clock::now() >= due_) {
            flush_locked();
        } else {
            timer_wake_.wait_until(guard, due_);
        }
    }
}

void reply_batch::add(nng_msg* frame, int pipe_id, bool is_more_coming)
{
    std::lock_guard<std::mutex> guard(lock_);
    std::size_t size = nng_msg_len(frame);
    if (size > small_frame_bytes || pipe_id != held_pipe_id_) {
        flush_locked();
    }
    if (size > small_frame_bytes) {
        conn_.send(frame);
        return;
    }
    bool is_first = held_.empty();
    held_.push_back(frame);
    held_bytes_ += size;
    held_pipe_id_ = pipe_id;
    if (!is_more_coming || held_.size() == DSP_MAX_BATCH ||
        held_bytes_ >= max_held_bytes) {
        flush_locked();
    } else if (is_first) {
        due_ = std::chrono::steady_clock::now() +
            std::chrono::milliseconds(hold_ms);
        timer_wake_.notify_one();
    }
}

bool reply_batch::has_held()
{
    std::lock_guard<std::mutex> guard(lock_);
    return !held_.empty();
}

void reply_batch::flush()
{
    std::lock_guard<std::mutex> guard(lock_);
    flush_locked();
}

void reply_batch::drop_locked()
{
    for (nng_msg* frame : held_) {
        nng_msg_free(frame);
    }
    held_.clear();
    held_bytes_ = 0;
    due_ = std::chrono::steady_clock::time_point::max();
}

// Called with lock_ held. Results for a connection that has closed are
// dropped: the dispatcher behind a new one does not know their tasks.
void reply_batch::flush_locked()
{
    if (held_.empty()) {
        return;
    }
    if (held_pipe_id_ != conn_.pipe_id()) {
        dsp_log(DSP_LOG_INFO, "WORKER-RESULT-DROPPED",
            "send %zu results: their connection has closed", held_.size());
        drop_locked();
        return;
    }
    nng_msg* batch = held_.size() > 1 ?
        dsp_batch_frame(held_.data(), held_.size(), held_bytes_) : nullptr;
    if (batch == nullptr) {
        // One result, or out of memory: each goes in a frame of its own.
        for (nng_msg* frame : held_) {
            conn_.send(frame);
        }
        held_.clear();
        drop_locked();
        return;
    }
    drop_locked();
    conn_.send(batch);
}

} // namespace detail
} // namespace worker
} // namespace mirai
