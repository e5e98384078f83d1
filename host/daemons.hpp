// Setting up daemons for a compute profile, and reading its status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mirai {
namespace host {

// The maximum number of local daemons daemons() and launch_local() start
// in one call. Each
// is a process with its own R (about 60 MB resident), so a larger count is
// taken for a mistake rather than forked until the machine runs out.
inline constexpr int max_local_daemons = 1024;

// The default compute profile's name.
inline const std::string default_profile = "default";

// The response of a daemon to a closed connection to the host (the host
// exits or dies, or the network drops).
enum class autoexit_mode {
    // Interrupt the running task and exit; a daemon whose R ignores the
    // interrupt is ended 200 ms later. mirai's autoexit = TRUE.
    immediate,
    // Let the running task finish (its result is lost), then exit.
    // mirai's autoexit = NA.
    finish,
    // Stay and keep redialing the same URL, so that a new host listening
    // there gets the daemon. Only an exit frame (daemons(0)) or a signal
    // ends it. mirai's autoexit = FALSE.
    never
};

struct daemons_options {
    // The compute profile to set. Each profile has its own daemons.
    std::string profile = default_profile;
    // Evaluate every task of the profile in the host's own R, at once,
    // through the same evaluator the daemons use. n is ignored.
    bool sync = false;
    // Where the dispatcher listens. Empty: an ipc:// path inside a
    // directory only this user can enter.
    std::string url;
    // How long daemons(n) waits for its n daemons to connect.
    int connect_timeout_ms = 30000;
    // The queue budget in MiB (2^20 bytes), 0 for unlimited: the
    // serialized payload bytes of tasks that wait for a daemon (queued,
    // not yet sent). While the queue holds tasks and the next payload
    // would take it past the budget, mirai() blocks and try_mirai()
    // returns no task. A single payload larger than the budget still
    // gets in when the queue is empty. Ignored in sync mode.
    std::size_t memory_mb = 0;
    // How long, in microseconds, one batch of short tasks should take.
    // While recent tasks were short, a daemon is sent as many queued tasks
    // in one message as fit in this time, at most its share of the queue
    // and 128. That cuts the cost per task several-fold. When another
    // daemon runs out of work, tasks not yet started move to it.
    // 0 sends one task per message, as mirai does: best when task lengths
    // vary a lot and each one matters. Daemons with maxtasks or walltime
    // always take one task at a time.
    std::uint32_t batch_us = 2000;
    // How many times a task is re-queued when the daemon running it is
    // lost (killed, crashed), before it resolves to error value 19. Off by
    // default, as a task that kills its daemon would otherwise run again.
    // task_options::retries overrides it per task.
    int retries = 0;
    // See autoexit_mode.
    autoexit_mode autoexit = autoexit_mode::immediate;
    // Restore each daemon's global environment, search path (attached
    // packages) and options() after every task. Setup tasks (everywhere)
    // are exempt: what they set stays.
    bool cleanup = true;
    // Forward the daemons' stdout and stderr to the host's; by default
    // they go to /dev/null.
    bool output = false;
    // A daemon exits (status 1) after this many milliseconds without a
    // task; 0 for no limit.
    int idletime_ms = 0;
    // A daemon exits (status 2) once this many milliseconds have passed
    // since it started, checked between tasks; 0 for no limit.
    int walltime_ms = 0;
    // A daemon exits (status 3) after this many tasks; 0 for no limit.
    // The dispatcher sends it nothing more once the last one is done.
    int maxtasks = 0;
};

// Set the daemons of a profile. n > 0 starts a dispatcher and n local
// mirai-daemon processes, and returns once all n are connected (throws
// error if they are not within connect_timeout_ms). Daemons already set
// for the profile are reset first. n == 0 resets the profile: every
// unresolved task resolves to error value 19 and every daemon exits.
// Returns the number of connected daemons (0 after a reset, 1 for sync).
// Throws error for a negative n. R thread only.
int daemons(int n, const daemons_options& options = {});

// Add n local daemons to a profile that already has daemons (set by
// daemons(n)), without resetting it: running tasks and queued tasks stay.
// The new daemons get the options the profile was set with. Returns once
// the n daemons have connected, with the number of daemons connected now.
// Throws error for n < 1, for a profile without daemons or in sync mode,
// and when the daemons do not connect within the profile's connect
// timeout. R thread only.
int launch_local(int n, const std::string& profile = default_profile);

// Reset every profile, as daemons(0) on each.
void reset_all_daemons();

// One connected daemon.
struct daemon_status {
    std::uint32_t id;
    std::uint64_t pid;
    std::uint64_t task_id;  // running now, 0 when idle
    std::uint64_t completed;
};

// The state of one profile. Counters are cheap to read: one lock.
struct status_info {
    std::string profile;
    bool is_set = false; // daemons() has set it up
    bool sync = false;
    std::string url;
    std::uint32_t connections = 0;
    std::uint64_t awaiting = 0;
    std::uint64_t executing = 0;
    std::uint64_t completed = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t failed = 0;
    // Serialized payload bytes of the tasks queued now, and the most
    // ever queued since daemons() set the profile up.
    std::uint64_t awaiting_bytes = 0;
    std::uint64_t awaiting_bytes_peak = 0;
    // Tasks sent to a daemon in a batch and given back unstarted, because
    // another daemon had run out of work; each was queued again.
    std::uint64_t returned = 0;
    std::vector<daemon_status> daemons;
};

// The status of a profile; an unset profile reports is_set == false.
// Any thread.
status_info status(const std::string& profile = default_profile);

} // namespace host
} // namespace mirai
