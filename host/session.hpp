// The host session: the one embedded R of the host process, and the
// compute profiles that hand tasks to daemons.
#pragma once

#include <memory>
#include <string>
#include <thread>

class RInside;

namespace mirai {
namespace host {

namespace detail {
class profile_registry;
}

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
    // directly. R thread only.
    RInside& r();

    detail::profile_registry& profiles() noexcept { return *profiles_; }

private:
    std::unique_ptr<RInside> r_;
    std::thread::id r_thread_;
    std::unique_ptr<detail::profile_registry> profiles_;
};

} // namespace host
} // namespace mirai
