// The shared state of one task: written once by the dispatcher's
// completion callback (an NNG thread), read by any thread. It never holds
// R objects, because its last owner may be an NNG thread; the R value is
// cached separately on R's thread (see handle).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "dispatcher/dispatcher.h"

#include <nng/nng.h>

namespace mirai {
namespace host {
namespace detail {

// Wakes threads that wait for any of several tasks (race_mirai). Every
// resolution bumps the generation under the mutex and notifies.
struct resolution_signal {
    std::mutex mutex;
    std::condition_variable cv;
    std::uint64_t generation = 0;

    void notify();
};

// The dispatcher a profile runs, shared with the tasks sent to it so that
// stop_mirai can reach it from any thread. A reset clears dispatcher under
// the mutex before closing it, so a task id is only ever cancelled on the
// dispatcher that issued it.
struct dispatcher_link {
    std::mutex mutex;
    dsp_dispatcher* dispatcher = nullptr;
};

class task_state {
public:
    explicit task_state(std::shared_ptr<resolution_signal> signal);
    ~task_state();
    task_state(const task_state&) = delete;
    task_state& operator=(const task_state&) = delete;

    // Record the outcome and wake waiters. Takes ownership of msg (may be
    // NULL). Called once; later calls free msg and change nothing.
    void resolve(int status, std::uint32_t flags, nng_msg* msg,
                 const void* payload, std::size_t payload_len);

    bool is_resolved() const;
    void wait() const;
    // False when the timeout passed first.
    bool wait_for_ms(long timeout_ms) const;
    // Poll for up to limit, yielding the CPU between polls, and return
    // whether the task resolved meanwhile. A result that arrives within
    // the limit is seen without the thread's sleep and wake-up.
    bool spin_for(std::chrono::microseconds limit) const;

    // Valid after resolution only.
    int status() const { return status_; }
    std::uint32_t flags() const { return flags_; }
    const void* payload() const { return payload_; }
    std::size_t payload_len() const { return payload_len_; }

    std::atomic<std::uint64_t> id{0};
    // Set before the handle is returned, then read-only; null in sync mode.
    std::shared_ptr<dispatcher_link> link;

    // Cancel the task through its dispatcher. Returns true when this call
    // resolved it (error value 20). Returns false when it had already
    // resolved, its profile was reset, or it ran in sync mode. Any thread.
    bool cancel();

    // True once resolved with anything but a value: an error value, an R
    // error or an interrupt. Reads no R object, so any thread.
    bool is_failure() const;

private:
    mutable std::mutex mutex_;
    mutable std::condition_variable cv_;
    // Written under mutex_. Atomic so that spin_for() can poll it
    // without the lock.
    std::atomic<bool> resolved_{false};
    int status_ = 0;
    std::uint32_t flags_ = 0;
    nng_msg* msg_ = nullptr;
    const void* payload_ = nullptr;
    std::size_t payload_len_ = 0;
    std::shared_ptr<resolution_signal> signal_;
};

} // namespace detail
} // namespace host
} // namespace mirai
