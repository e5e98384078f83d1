// Creating tasks: mirai(), everywhere() and race_mirai().
#pragma once

#include "host/data.hpp"
#include "host/daemons.hpp"
#include "host/handle.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace mirai {
namespace host {

struct task_options {
    // The compute profile that runs the task.
    std::string profile = default_profile;
    // A deadline in milliseconds, counted from submission (time spent
    // queued included, as in mirai). Past it the task resolves to error
    // value 5 and its evaluation is stopped on the daemon, which is then
    // free for the next task. Must be positive when set. Ignored in sync
    // mode, where the task has already run when mirai() returns.
    std::optional<long> timeout_ms;
    // Overrides daemons_options::retries for this task when set.
    std::optional<int> retries;
};

// Evaluate the R code in expression on a daemon of the profile, in a
// fresh environment holding values and enclosed by the daemon's global
// environment. Returns at once with a handle; in sync mode the task has
// already run in the host's R. Throws error when the code does not parse
// (the host stays usable), the profile has no daemons set, or a timeout
// or retry count is out of range. When the profile's queue budget
// (daemons_options::memory_mb) has no room, blocks until daemons take
// enough queued tasks, with no timeout, as submitting to a full queue does
// in mirai; it throws error when an R interrupt is pending
// (R_interrupts_pending, checked every 100 ms) or the daemons are reset
// meanwhile. R thread only.
handle mirai(const std::string& expression, const data& values = {},
             const task_options& options = {});

// mirai() that never blocks: when the profile's queue budget (see
// daemons_options::memory_mb) has no room for the task, returns an empty
// optional at once and the task is not created. Otherwise as mirai(),
// including in sync mode, where the budget does not apply. R thread only.
std::optional<handle> try_mirai(const std::string& expression,
                                const data& values = {},
                                const task_options& options = {});

struct everywhere_options {
    std::string profile = default_profile;
    // Return once this many distinct daemons have run the expression; a
    // negative number means every daemon connected now.
    int min = -1;
    // Throw error when min is not reached in time.
    int timeout_ms = 60000;
};

// Run expression on every daemon of the profile, now and on daemons that
// connect later, before any further task; use it to load packages or set
// globals. As in mirai, values are assigned in each daemon's global
// environment and persist, while the expression runs in a fresh
// environment (use values, or <<-, to leave globals behind). In sync mode
// it runs once in the host's R. R thread only.
void everywhere(const std::string& expression, const data& values = {},
                const everywhere_options& options = {});

// Cancel a task. A queued task is removed and never runs; a running task
// is interrupted on its daemon, which stays up and takes the next task.
// Either way the task resolves to error value 20 before this returns.
// Returns true when this call cancelled it, false when there was nothing
// to cancel: the task had already resolved (or ran in sync mode). Any
// thread.
bool stop_mirai(const handle& task);

// Cancel every task in tasks; returns how many this call cancelled.
std::size_t stop_mirai(const std::vector<handle>& tasks);

// Block until one of tasks is resolved and return its index (at once if
// one already is). Throws error for an empty list. Any thread.
std::size_t race_mirai(const std::vector<handle>& tasks);

} // namespace host
} // namespace mirai
