// Interrupting R's evaluation from another thread.
//
// R notices a pending interrupt at its next check, but a task blocked in
// a system call (Sys.sleep, a socket read) only returns to those checks
// when a signal makes the call fail with EINTR. So a cancel sets
// R_interrupts_pending and sends SIGINT to R's thread, whose handler
// does nothing. Every other thread blocks SIGINT, so the signal never
// lands on an NNG thread.
#pragma once

#include <pthread.h>

namespace mirai {
namespace worker {
namespace detail {

// Block SIGINT on the calling thread. Call it first in main(), before NNG
// or R start threads, because new threads inherit the signal mask.
void block_interrupt_signal();

// Install the empty SIGINT handler (without SA_RESTART) and unblock
// SIGINT on the calling thread, which must be R's thread.
void enable_interrupt_signal();

// Make R on r_thread stop its current evaluation with an interrupt.
// Any thread may call it; the caller ensures that r_thread is running the
// evaluation meant, since a stale interrupt would hit the next one.
void interrupt_r(pthread_t r_thread);

// Drop an interrupt that R has not acted on yet, so that it cannot hit
// the next evaluation. R thread only.
void clear_interrupt();

// Keep R from acting on interrupts outside a task's evaluation, which
// turns them back on for the task's own code only. An interrupt that
// lands between tasks then waits instead of jumping to R's top level
// from an allocation in the daemon's loop, which ends the process
// ("Execution halted"). R thread only, once R has started.
void suspend_interrupts_between_tasks();

} // namespace detail
} // namespace worker
} // namespace mirai
