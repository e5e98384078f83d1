// Ending the processes that tasks started. A daemon that leads its own
// process group (local daemons are spawned that way) sends SIGTERM to the
// rest of the group when it exits, so that a task's background command,
// such as system("sleep 100", wait = FALSE), does not outlive it. A daemon
// started inside someone else's group (a shell, a test) leaves it alone.
#pragma once

namespace mirai {
namespace worker {
namespace detail {

// Send SIGTERM to every other process in the daemon's process group, if
// the daemon leads it. Only async-signal-safe calls, so the _exit path
// may use it from any thread.
void end_process_group() noexcept;

} // namespace detail
} // namespace worker
} // namespace mirai
