#include "worker/detail/limits.hpp"

#include <algorithm>

namespace mirai {
namespace worker {
namespace detail {

task_limits::task_limits(const options& opts)
    : maxtasks_(opts.maxtasks),
      idletime_(std::chrono::milliseconds(opts.idletime_ms)),
      idle_since_(clock::now()),
      wall_deadline_(opts.walltime_ms > 0 ?
              clock::now() + std::chrono::milliseconds(opts.walltime_ms) :
              clock::time_point::max())
{
}

task_limits::clock::time_point task_limits::wait_deadline() const
{
    clock::time_point idle_deadline = idletime_.count() > 0 ?
        idle_since_ + idletime_ : clock::time_point::max();
    return std::min(idle_deadline, wall_deadline_);
}

bool task_limits::is_past_walltime() const
{
    return clock::now() >= wall_deadline_;
}

int task_limits::finish_task()
{
    tasks_done_++;
    idle_since_ = clock::now();
    if (maxtasks_ > 0 && tasks_done_ >= maxtasks_) {
        return exit_maxtasks;
    }
    return is_past_walltime() ? exit_walltime : exit_normal;
}

void task_limits::finish_setup()
{
    idle_since_ = clock::now();
}

int task_limits::status_at_deadline() const
{
    return is_past_walltime() ? exit_walltime : exit_idletime;
}

} // namespace detail
} // namespace worker
} // namespace mirai
