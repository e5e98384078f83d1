#include "host/detail/task_state.hpp"

#include <chrono>

#include <sched.h>

namespace mirai {
namespace host {
namespace detail {

void resolution_signal::notify()
{
    {
        std::lock_guard<std::mutex> lock(mutex);
        generation++;
    }
    cv.notify_all();
}

task_state::task_state(std::shared_ptr<resolution_signal> signal)
    : signal_(std::move(signal))
{
}

task_state::~task_state()
{
    if (msg_ != nullptr) {
        nng_msg_free(msg_);
    }
}

void task_state::resolve(int status, std::uint32_t flags, nng_msg* msg,
                         const void* payload, std::size_t payload_len)
{
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (resolved_) {
            if (msg != nullptr) {
                nng_msg_free(msg);
            }
            return;
        }
        status_ = status;
        flags_ = flags;
        msg_ = msg;
        payload_ = payload;
        payload_len_ = payload_len;
        resolved_ = true;
    }
    cv_.notify_all();
    if (signal_) {
        signal_->notify();
    }
}

bool task_state::is_resolved() const
{
    std::lock_guard<std::mutex> lock(mutex_);
    return resolved_;
}

void task_state::wait() const
{
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return resolved_.load(); });
}

bool task_state::wait_for_ms(long timeout_ms) const
{
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                        [this] { return resolved_.load(); });
}

bool task_state::spin_for(std::chrono::microseconds limit) const
{
    auto until = std::chrono::steady_clock::now() + limit;
    while (!resolved_) {
        if (std::chrono::steady_clock::now() >= until) {
            return false;
        }
        sched_yield();
    }
    return true;
}

bool task_state::cancel()
{
    if (!link || is_resolved()) {
        return false;
    }
    std::lock_guard<std::mutex> lock(link->mutex);
    if (link->dispatcher == nullptr) {
        return false;
    }
    return dsp_dispatcher_cancel(link->dispatcher, id) == DSP_OK;
}

bool task_state::is_failure() const
{
    std::lock_guard<std::mutex> lock(mutex_);
    return resolved_ && (status_ != 0 || flags_ != DSP_RESULT_VALUE);
}

} // namespace detail
} // namespace host
} // namespace mirai
