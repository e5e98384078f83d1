#include "worker/detail/r_interrupt.hpp"

#include "sync/evaluator.hpp"
#include "sync/r.hpp"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace mirai {
namespace worker {
namespace detail {

namespace {

// The signal exists only to end a blocking system call with EINTR; the
// interrupt itself travels through R_interrupts_pending. An external
// SIGINT (Ctrl-C in a terminal) therefore does not stop the daemon.
extern "C" void on_interrupt_signal(int)
{
}

sigset_t interrupt_set()
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    return set;
}

} // namespace

void block_interrupt_signal()
{
    sigset_t set = interrupt_set();
    int rv = pthread_sigmask(SIG_BLOCK, &set, nullptr);
    if (rv != 0) {
        throw std::runtime_error(std::string("block SIGINT: ") +
            std::strerror(rv));
    }
}

void enable_interrupt_signal()
{
    struct sigaction action;
    std::memset(&action, 0, sizeof(action));
    action.sa_handler = on_interrupt_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: the blocked call must fail
    if (sigaction(SIGINT, &action, nullptr) != 0) {
        throw std::runtime_error(std::string("install SIGINT handler: ") +
            std::strerror(errno));
    }

    sigset_t set = interrupt_set();
    int rv = pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    if (rv != 0) {
        throw std::runtime_error(std::string("unblock SIGINT: ") +
            std::strerror(rv));
    }
}

void interrupt_r(pthread_t r_thread)
{
    sync::note_interrupt_request();
    R_interrupts_pending = 1;
    pthread_kill(r_thread, SIGINT);
}

void clear_interrupt()
{
    R_interrupts_pending = 0;
}

void suspend_interrupts_between_tasks()
{
    R_interrupts_suspended = TRUE;
}

} // namespace detail
} // namespace worker
} // namespace mirai
