// Starting a profile's dispatcher and local daemons, and the registry of
// profiles.
#include "host/detail/profile.hpp"

#include "host/error.hpp"

#include <chrono>
#include <thread>

namespace mirai {
namespace host {
namespace detail {

namespace {

// Poll slice while waiting for daemons, short enough to notice a daemon
// that died at start-up without waiting for the whole timeout.
constexpr int connect_poll_ms = 50;

dsp_dispatcher* open_dispatcher(const std::string& url, std::string& bound)
{
    dsp_dispatcher* dispatcher = nullptr;
    int rc = dsp_dispatcher_open(&dispatcher);
    if (rc != 0) {
        throw error(std::string("open dispatcher: ") + dsp_strerror(rc));
    }
    char buffer[512] = {0};
    rc = dsp_dispatcher_listen(dispatcher, url.c_str(), buffer,
                               sizeof(buffer));
    if (rc != 0) {
        dsp_dispatcher_close(dispatcher);
        throw error("listen at '" + url + "': " + dsp_strerror(rc));
    }
    bound = buffer[0] != '\0' ? buffer : url;
    return dispatcher;
}

// Wait until n daemons said hello; fail early when all that are left
// have exited.
void wait_for_daemons(dsp_dispatcher* dispatcher, local_launcher& launcher,
                      int n, int timeout_ms, const std::string& name)
{
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(timeout_ms);
    int exited = 0;
    while (true) {
        int rc = dsp_dispatcher_wait_connections(
            dispatcher, static_cast<std::uint32_t>(n), connect_poll_ms);
        if (rc == 0) {
            return;
        }
        exited += launcher.reap_exited();
        dsp_stats stats;
        dsp_dispatcher_stats(dispatcher, &stats);
        std::string counts = std::to_string(stats.connections) + " of " +
                             std::to_string(n) + " daemons connected";
        if (exited > 0 && stats.connections + launcher.pids().size() <
                              static_cast<std::size_t>(n)) {
            throw error("start daemons for profile '" + name + "': " +
                        counts + ", " + std::to_string(exited) +
                        " exited at start-up (run '" + daemon_executable() +
                        " --help' to check the executable)");
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            throw error("start daemons for profile '" + name + "': " +
                        counts + " within " + std::to_string(timeout_ms) +
                        " ms");
        }
    }
}

const char* autoexit_text(autoexit_mode mode)
{
    switch (mode) {
    case autoexit_mode::finish:
        return "finish";
    case autoexit_mode::never:
        return "false";
    case autoexit_mode::immediate:
        break;
    }
    return "true";
}

void check_limit(const std::string& profile, const char* name, int value)
{
    if (value < 0) {
        throw error("set daemons for profile '" + profile + "': " + name +
                    ": expected 0 (no limit) or more, got " +
                    std::to_string(value));
    }
}

// The mirai-daemon command line for options, after the URL.
daemon_settings make_settings(const daemons_options& options)
{
    check_limit(options.profile, "idletime_ms", options.idletime_ms);
    check_limit(options.profile, "walltime_ms", options.walltime_ms);
    check_limit(options.profile, "maxtasks", options.maxtasks);
    daemon_settings settings;
    settings.output = options.output;
    settings.args = {"--autoexit", autoexit_text(options.autoexit),
                     "--cleanup", options.cleanup ? "true" : "false"};
    auto add = [&](const char* flag, int value) {
        if (value > 0) {
            settings.args.push_back(flag);
            settings.args.push_back(std::to_string(value));
        }
    };
    add("--idletime", options.idletime_ms);
    add("--walltime", options.walltime_ms);
    add("--maxtasks", options.maxtasks);
    return settings;
}

// Wait until count more daemons than before have sent their hello.
// Retired daemons leave the connection count, so count hellos instead.
void wait_for_new_daemons(dsp_dispatcher* dispatcher,
                          local_launcher& launcher, std::uint64_t seen,
                          int count, int timeout_ms, const std::string& name)
{
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(timeout_ms);
    while (true) {
        dsp_stats stats;
        dsp_dispatcher_stats(dispatcher, &stats);
        std::uint64_t arrived = stats.daemons_seen - seen;
        if (arrived >= static_cast<std::uint64_t>(count)) {
            return;
        }
        launcher.reap_exited();
        if (std::chrono::steady_clock::now() >= deadline) {
            throw error("add daemons to profile '" + name + "': " +
                        std::to_string(arrived) + " of " +
                        std::to_string(count) + " daemons connected within " +
                        std::to_string(timeout_ms) + " ms");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

} // namespace

// Only the R thread changes the fields read here, and this runs on it, so
// no lock is held while the daemons start.
int profile::add_local(int n)
{
    if (sync_ || dispatcher_ == nullptr || !launcher_) {
        throw error("add daemons to profile '" + name_ + "': " +
                    (sync_ ? "the profile is in sync mode"
                           : "no daemons set: call daemons(n) first"));
    }
    // Reap daemons that died since the last call, so none stays a zombie.
    launcher_->reap_exited();
    dsp_stats before;
    dsp_dispatcher_stats(dispatcher_, &before);
    for (int i = 0; i < n; i++) {
        launcher_->spawn(url_);
    }
    wait_for_new_daemons(dispatcher_, *launcher_, before.daemons_seen, n,
                         connect_timeout_ms_, name_);
    dsp_stats after;
    dsp_dispatcher_stats(dispatcher_, &after);
    return static_cast<int>(after.connections);
}

int profile::start_local(int n, const daemons_options& options)
{
    daemon_settings settings = make_settings(options);
    reset();
    auto dir = std::make_unique<private_dir>();
    std::string url = options.url;
    if (url.empty()) {
        url = "ipc://" + dir->path() + "/dispatcher.sock";
    }
    std::string bound;
    dsp_dispatcher* dispatcher = open_dispatcher(url, bound);
    dsp_dispatcher_set_queue_budget(
        dispatcher, static_cast<std::uint64_t>(options.memory_mb) << 20);
    dsp_dispatcher_set_batch_budget(dispatcher, options.batch_us);
    auto launcher =
        std::make_unique<local_launcher>(dir->path(), std::move(settings));
    try {
        for (int i = 0; i < n; i++) {
            launcher->spawn(bound);
        }
        wait_for_daemons(dispatcher, *launcher, n,
                         options.connect_timeout_ms, name_);
    } catch (...) {
        dsp_dispatcher_close(dispatcher);
        launcher->stop_all(2000);
        throw;
    }

    auto link = std::make_shared<dispatcher_link>();
    link->dispatcher = dispatcher;
    std::lock_guard<std::mutex> lock(mutex_);
    url_ = bound;
    dispatcher_ = dispatcher;
    link_ = std::move(link);
    retries_ = options.retries;
    launcher_ = std::move(launcher);
    dir_ = std::move(dir);
    connect_timeout_ms_ = options.connect_timeout_ms;
    return n;
}

profile_registry::profile_registry()
    : signal_(std::make_shared<resolution_signal>())
{
}

profile& profile_registry::get(const std::string& name)
{
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = profiles_.find(name);
    if (it == profiles_.end()) {
        it = profiles_
                 .emplace(name, std::make_unique<profile>(name, signal_))
                 .first;
    }
    return *it->second;
}

profile* profile_registry::find(const std::string& name)
{
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = profiles_.find(name);
    return it == profiles_.end() ? nullptr : it->second.get();
}

void profile_registry::reset_all()
{
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& entry : profiles_) {
        entry.second->reset();
    }
}

} // namespace detail
} // namespace host
} // namespace mirai
