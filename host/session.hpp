// The host session: the one embedded R of the host process, and the
// compute profiles that hand tasks to daemons.
#pragma once

#include "host/error.hpp"
#include "sync/r.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

class RInside;

namespace mirai {
namespace host {

namespace detail {
class profile_registry;
}

// An R evaluation or a wait on a task that session::interrupt() or a
// SIGINT (Ctrl-C) stopped. A handle whose wait threw it stays valid and
// resolves later as usual.
class interrupted : public error {
public:
    using error::error;
};

// Options for starting the host's R.
struct session_options {
    // Construct R as interactive, so that browser() inside a sync-mode
    // task stops and reads commands from the console (standard input).
    bool interactive = false;
};

// Owns the host's embedded R and every compute profile. Exactly one may
// exist per process, and R can start only once per process, so a second
// session in the same process throws error even after the first one is
// gone. The thread that constructs the session becomes R's thread: it is
// the only thread allowed to call functions that touch R objects.
// Destroying the session resets every profile (daemons(0)).
//
// The session installs a SIGINT handler for the process, so that Ctrl-C
// interrupts the R code running in the host (and wakes waits on tasks)
// instead of killing the process. An interrupt that arrives while no R
// evaluation runs is not kept for the next one. The destructor puts back
// the SIGINT handler that was there before.
class session {
public:
    explicit session(const session_options& options = {});
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    // The live session. Throws error when none exists.
    static session& current();

    // True when the calling thread is R's thread.
    bool is_r_thread() const noexcept;

    // Throw error "<operation>: called from a thread that is not R's"
    // unless the calling thread is R's thread.
    void require_r_thread(const char* operation) const;

    // The embedded R (RInside), for code that wants to evaluate R
    // directly. R thread only. Wrap such calls in an evaluation_scope to
    // make them interruptible.
    RInside& r();

    // Parse and evaluate code in the global environment and return the
    // value of its last expression. Throws interrupted when interrupt()
    // or SIGINT stops it, and error for a parse or R error (with R's
    // message). R thread only.
    Rcpp::RObject evaluate(const std::string& code);

    // Stop the R code running in the host's R (a sync-mode task, or
    // evaluate()) with an R interrupt, also inside Sys.sleep, and make
    // every handle::wait() in progress throw interrupted. Does nothing
    // to R when no evaluation runs. Any thread; safe to call often.
    void interrupt() noexcept;

    // A counter raised by every interrupt() and SIGINT; waits compare it
    // with the value they started with. Any thread.
    static std::uint64_t interrupt_generation() noexcept;

    // Marks an R evaluation on R's thread as one that interrupt() may
    // stop, and clears a stale R interrupt flag on entry and exit.
    class evaluation_scope {
    public:
        evaluation_scope() noexcept;
        ~evaluation_scope();
        evaluation_scope(const evaluation_scope&) = delete;
        evaluation_scope& operator=(const evaluation_scope&) = delete;

    private:
        bool is_outer_;
    };

    detail::profile_registry& profiles() noexcept { return *profiles_; }

private:
    void install_interrupt_handler();
    void remove_interrupt_handler() noexcept;

    std::unique_ptr<RInside> r_;
    std::thread::id r_thread_;
    std::unique_ptr<detail::profile_registry> profiles_;
};

} // namespace host
} // namespace mirai
