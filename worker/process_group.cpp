#include "worker/detail/process_group.hpp"

#include <signal.h>
#include <unistd.h>

namespace mirai {
namespace worker {
namespace detail {

void end_process_group() noexcept
{
    if (getpgrp() != getpid()) {
        return;
    }
    // kill(0, ...) reaches the sender too, so the daemon ignores SIGTERM
    // first. Children keep the disposition they had when they started,
    // so they still receive it.
    struct sigaction ignore = {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGTERM, &ignore, nullptr);
    kill(0, SIGTERM);
}

} // namespace detail
} // namespace worker
} // namespace mirai
