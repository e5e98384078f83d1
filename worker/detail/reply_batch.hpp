// Results on their way to the dispatcher. While more tasks of a batch wait
// in the inbox, small results are held back and then sent together in one
// batch frame, which saves the thread hand-offs of a message per task. A
// timer sends held results after hold_ms, so a slow task that follows
// quick ones does not hold their results back. The timer is a thread of
// its own: NNG 1.5.2's timer thread spins on the clock for the last
// millisecond of every sleep, which cost a third of a busy daemon's CPU.
#pragma once

#include "worker/detail/connection.hpp"

#include <nng/nng.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace mirai {
namespace worker {
namespace detail {

class reply_batch {
public:
    explicit reply_batch(connection& conn);
    // Stops the timer thread; held results are dropped.
    ~reply_batch();
    reply_batch(const reply_batch&) = delete;
    reply_batch& operator=(const reply_batch&) = delete;

    // Send a result frame made for the connection pipe_id (takes frame).
    // A small frame is held back while is_more_coming. Held frames go out
    // together with the first result that has is_more_coming false, when
    // the batch is full, or after hold_ms. R thread.
    void add(nng_msg* frame, int pipe_id, bool is_more_coming);

    // Send every held result now, before a frame that must follow them.
    // R thread.
    void flush();

    // Whether results are held back.
    bool has_held();

    static constexpr int hold_ms = 2;
    // Results larger than this are sent on their own.
    static constexpr std::size_t small_frame_bytes = 16 * 1024;
    static constexpr std::size_t max_held_bytes = 256 * 1024;

private:
    void run_timer();
    void flush_locked();
    void drop_locked();

    connection& conn_;
    std::mutex lock_;
    std::vector<nng_msg*> held_;
    std::size_t held_bytes_ = 0;
    int held_pipe_id_ = -1;
    // When held results must go; time_point::max() while none are held.
    std::chrono::steady_clock::time_point due_ =
        std::chrono::steady_clock::time_point::max();
    bool is_stopping_ = false;
    std::condition_variable timer_wake_;
    std::thread timer_;
};

} // namespace detail
} // namespace worker
} // namespace mirai
