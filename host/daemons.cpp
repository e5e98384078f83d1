#include "host/daemons.hpp"

#include "host/detail/profile.hpp"
#include "host/detail/value_cache.hpp"
#include "host/error.hpp"
#include "host/session.hpp"

#include <cstdint>

namespace mirai {
namespace host {

int daemons(int n, const daemons_options& options)
{
    session& s = session::current();
    s.require_r_thread("set daemons");
    detail::release_deferred_objects();
    if (n < 0 || n > max_local_daemons) {
        throw error("set daemons for profile '" + options.profile +
                    "': expected a count of 0 to " +
                    std::to_string(max_local_daemons) + ", got " +
                    std::to_string(n));
    }
    if (options.profile.empty()) {
        throw error("set daemons: expected a profile name, got ''");
    }
    detail::profile& p = s.profiles().get(options.profile);
    if (options.sync) {
        p.start_sync();
        return 1;
    }
    if (n == 0) {
        p.reset();
        return 0;
    }
    if (options.memory_mb > (UINT64_MAX >> 20)) {
        throw error("set daemons for profile '" + options.profile +
                    "': memory_mb " + std::to_string(options.memory_mb) +
                    " is too large: expected at most " +
                    std::to_string(UINT64_MAX >> 20));
    }
    if (options.retries < 0) {
        throw error("set daemons for profile '" + options.profile +
                    "': expected retries of 0 or more, got " +
                    std::to_string(options.retries));
    }
    if (options.connect_timeout_ms <= 0) {
        throw error("set daemons for profile '" + options.profile +
                    "': expected a positive connect timeout, got " +
                    std::to_string(options.connect_timeout_ms));
    }
    return p.start_local(n, options);
}

int launch_local(int n, const std::string& profile)
{
    session& s = session::current();
    s.require_r_thread("add daemons");
    if (n < 1) {
        throw error("add daemons to profile '" + profile +
                    "': expected a count of 1 or more, got " +
                    std::to_string(n));
    }
    if (n > max_local_daemons) {
        throw error("add daemons to profile '" + profile +
                    "': expected a count of at most " +
                    std::to_string(max_local_daemons) + ", got " +
                    std::to_string(n));
    }
    detail::profile* p = s.profiles().find(profile);
    if (p == nullptr) {
        throw error("add daemons to profile '" + profile +
                    "': no daemons set: call daemons(n) first");
    }
    return p->add_local(n);
}

void reset_all_daemons()
{
    session& s = session::current();
    s.require_r_thread("reset daemons");
    s.profiles().reset_all();
}

status_info status(const std::string& profile)
{
    detail::profile* p = session::current().profiles().find(profile);
    if (p == nullptr) {
        status_info info;
        info.profile = profile;
        return info;
    }
    return p->status();
}

} // namespace host
} // namespace mirai
