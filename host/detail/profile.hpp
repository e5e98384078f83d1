// A compute profile: either a dispatcher with its local daemons, or sync
// mode, or nothing yet. The registry keeps profiles by name.
#pragma once

#include "host/daemons.hpp"
#include "host/detail/local_launcher.hpp"
#include "host/detail/task_state.hpp"
#include "host/handle.hpp"
#include "sync/r.hpp"

#include "dispatcher/dispatcher.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace mirai {
namespace host {
namespace detail {

class profile {
public:
    profile(std::string name, std::shared_ptr<resolution_signal> signal);
    ~profile();
    profile(const profile&) = delete;
    profile& operator=(const profile&) = delete;

    // Start a dispatcher and n local daemons (n > 0), after a reset.
    int start_local(int n, const daemons_options& options);
    // Start n more local daemons with the same settings; no reset.
    int add_local(int n);
    // Switch to sync mode, after a reset.
    void start_sync();
    // Back to unset: tasks resolve to 19, daemons exit and are reaped.
    void reset();

    bool is_set() const;
    bool is_sync() const;

    // Send a task object (sync::make_task) or evaluate it in sync mode.
    // timeout_ms > 0 sets a deadline counted from now; retries < 0 takes
    // the profile's default. With may_block false, returns an empty handle
    // instead of waiting for room in the queue budget. R thread only.
    handle submit(SEXP task, long timeout_ms = 0, int retries = -1,
                  bool may_block = true);

    // Broadcast a setup task and wait for min daemons. R thread only.
    void everywhere(SEXP task, int min, int timeout_ms);

    status_info status();

private:
    handle evaluate_here(SEXP task);
    int queue_task(nng_msg* msg, void* holder, const dsp_task_options& opts,
                   std::uint64_t* id, bool may_block);
    void require_dispatcher(const char* operation) const;

    std::string name_;
    std::shared_ptr<resolution_signal> signal_;
    // Guards the fields below against status() from other threads; the
    // R thread alone changes them.
    mutable std::mutex mutex_;
    bool sync_ = false;
    std::string url_;
    dsp_dispatcher* dispatcher_ = nullptr;
    std::shared_ptr<dispatcher_link> link_;
    int retries_ = 0; // daemons_options::retries
    std::unique_ptr<private_dir> dir_;
    std::unique_ptr<local_launcher> launcher_;
    int connect_timeout_ms_ = 0; // of the last start_local
};

class profile_registry {
public:
    profile_registry();

    // The named profile, created unset on first use. Profiles live until
    // the registry dies, so references stay valid.
    profile& get(const std::string& name);
    // The named profile, or nullptr when never used.
    profile* find(const std::string& name);

    void reset_all();

    const std::shared_ptr<resolution_signal>& signal() const
    {
        return signal_;
    }

private:
    std::mutex mutex_;
    std::map<std::string, std::unique_ptr<profile>> profiles_;
    std::shared_ptr<resolution_signal> signal_;
};

} // namespace detail
} // namespace host
} // namespace mirai
