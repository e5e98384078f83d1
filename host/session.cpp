// The host session: starts the embedded R once per process and owns the
// compute profiles.
#include "host/session.hpp"

#include "host/detail/profile.hpp"
#include "host/detail/value_cache.hpp"
#include "host/error.hpp"
#include "sync/conditions.hpp"
#include "sync/stack.hpp"

#include "dispatcher/log.h"

#include <RInside.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace mirai {
namespace host {

namespace {

std::atomic<bool> r_started{false};
std::atomic<session*> current_session{nullptr};

} // namespace

session::session(const session_options& options)
{
    // R takes the thread that starts it for the main thread: it measures
    // its C stack from there, and starting it elsewhere aborts the process.
    if (syscall(SYS_gettid) != getpid()) {
        throw error("create session: must run on the process's main thread, "
                    "as R can only start there; called from another thread");
    }
    if (r_started.exchange(true)) {
        throw error("create session: R already started in this process; "
                    "only one session may exist per process");
    }
    r_thread_ = std::this_thread::get_id();
    r_ = std::make_unique<RInside>(0, nullptr, true, false,
                                   options.interactive);
    sync::install_r_support();
    sync::enable_c_stack_check();
    install_interrupt_handler();
    profiles_ = std::make_unique<detail::profile_registry>();
    current_session = this;
    dsp_log(DSP_LOG_INFO, "HOST-R-INIT", "start host R: interactive %s",
            options.interactive ? "true" : "false");
}

session::~session()
{
    profiles_->reset_all();
    detail::release_deferred_objects();
    remove_interrupt_handler();
    current_session = nullptr;
}

session& session::current()
{
    session* s = current_session.load();
    if (s == nullptr) {
        throw error("find session: no mirai::host::session exists; "
                    "construct one first");
    }
    return *s;
}

bool session::is_r_thread() const noexcept
{
    return std::this_thread::get_id() == r_thread_;
}

void session::require_r_thread(const char* operation) const
{
    if (!is_r_thread()) {
        throw error(std::string(operation) +
                    ": called from a thread that is not R's (only the "
                    "thread that created the session may use R)");
    }
}

RInside& session::r()
{
    require_r_thread("use host R");
    return *r_;
}

} // namespace host
} // namespace mirai
