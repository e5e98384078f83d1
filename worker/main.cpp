// mirai-daemon: parse the command line, then run the daemon.
#include "worker/daemon.hpp"
#include "worker/detail/r_interrupt.hpp"
#include "worker/detail/startup_memory.hpp"
#include "worker/options.hpp"

#include <cstdio>
#include <exception>

int main(int argc, char** argv)
{
    using namespace mirai::worker;

    options opts;
    try {
        opts = parse_options(argc, argv);
    } catch (const option_error& e) {
        std::fprintf(stderr, "mirai-daemon: %s\n"
            "Try 'mirai-daemon --help' for more information.\n", e.what());
        return exit_usage;
    }
    if (opts.show_help) {
        std::fputs(usage_text().c_str(), stdout);
        return 0;
    }
    if (opts.show_version) {
        std::fputs(version_text().c_str(), stdout);
        return 0;
    }

    // NNG and R start threads inside run_daemon, so malloc options are
    // set first. The threads inherit the signal mask, so only the R
    // thread, which unblocks SIGINT later, receives SIGINT.
    detail::set_malloc_options();
    try {
        detail::block_interrupt_signal();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mirai-daemon: %s\n", e.what());
        return exit_failure;
    }
    return run_daemon(opts, argc, argv);
}
