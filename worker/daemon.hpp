// The daemon: dial the dispatcher, start R, say hello, then evaluate each
// task and setup frame and send back its result until told to stop.
#pragma once

#include "worker/options.hpp"

namespace mirai {
namespace worker {

// Run a daemon with opts on the calling thread, which becomes R's thread.
// Call block_interrupt_signal() (worker/detail/r_interrupt.hpp) first, in
// main(), before any thread exists. argc and argv go to R, for
// commandArgs(). Returns the process exit status (enum exit_status): 0
// after an exit frame or a closed connection, 1 to 3 when idletime,
// walltime or maxtasks retired it, 70 when the daemon cannot connect,
// cannot start or receives a malformed frame. Failures are logged here.
int run_daemon(const options& opts, int argc, char** argv);

} // namespace worker
} // namespace mirai
