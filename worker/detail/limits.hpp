// The limits that retire a daemon: --idletime, --walltime and --maxtasks.
// None of them interrupts a task: idletime and walltime are checked while
// the daemon waits for a frame and after each task, maxtasks after each
// task.
#pragma once

#include "worker/options.hpp"

#include <chrono>

namespace mirai {
namespace worker {
namespace detail {

class task_limits {
public:
    using clock = std::chrono::steady_clock;

    explicit task_limits(const options& opts);

    // When the daemon should stop waiting for a frame: the earlier of the
    // idle and wall deadlines, or clock::time_point::max() for none.
    clock::time_point wait_deadline() const;

    // Count a finished task (setups do not count) and restart the idle
    // clock. Returns exit_maxtasks or exit_walltime when one is reached,
    // else exit_normal.
    int finish_task();

    // Restart the idle clock after a setup frame.
    void finish_setup();

    // The status for a wait that reached wait_deadline(): exit_walltime
    // or exit_idletime.
    int status_at_deadline() const;

private:
    bool is_past_walltime() const;

    int maxtasks_;
    int tasks_done_ = 0;
    clock::duration idletime_;
    clock::time_point idle_since_;
    clock::time_point wall_deadline_;
};

} // namespace detail
} // namespace worker
} // namespace mirai
