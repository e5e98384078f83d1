// Starting and stopping local daemons: mirai-daemon processes on this
// machine, spawned with posix_spawn (NNG is not safe across a plain fork),
// each with its own TMPDIR inside the profile's private directory and in
// a process group of its own, which the daemon ends when it exits.
#pragma once

#include <string>
#include <vector>

#include <sys/types.h>

namespace mirai {
namespace host {
namespace detail {

// A directory only this user can enter (mode 0700), removed with its
// contents on destruction. It contains an "owner" file with the host's pid
// and start time. A host killed by SIGKILL cannot remove its directory,
// so creating one first removes the directories of this user's hosts
// that no longer run.
class private_dir {
public:
    private_dir();
    ~private_dir();
    private_dir(const private_dir&) = delete;
    private_dir& operator=(const private_dir&) = delete;

    const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
};

// The mirai-daemon executable: $MIRAI_DAEMON when set, else the path the
// build recorded, else mirai-daemon beside the running program.
std::string daemon_executable();

// The start-up settings of local daemons: the mirai-daemon options after
// the URL, and whether their stdout and stderr go to the host's or to
// /dev/null.
struct daemon_settings {
    std::vector<std::string> args;
    bool output = false;
};

// Remove private directories under base (mirai-*) whose owner file names
// a process that no longer runs. Returns how many were removed.
int remove_stale_dirs(const std::string& base);

class local_launcher {
public:
    local_launcher(std::string dir, daemon_settings settings)
        : dir_(std::move(dir)), settings_(std::move(settings))
    {
    }
    ~local_launcher();
    local_launcher(const local_launcher&) = delete;
    local_launcher& operator=(const local_launcher&) = delete;

    // Start one daemon dialing url. Throws error naming the executable
    // when it cannot be spawned.
    pid_t spawn(const std::string& url);

    const daemon_settings& settings() const noexcept { return settings_; }

    // Wait up to grace_ms for every daemon to exit, then SIGKILL the rest
    // and reap them all.
    void stop_all(int grace_ms);

    // Reap daemons that have exited; returns how many.
    int reap_exited();

    // Daemons started and not yet reaped.
    const std::vector<pid_t>& pids() const noexcept { return pids_; }

private:
    std::string dir_;
    daemon_settings settings_;
    std::vector<pid_t> pids_;
    int spawned_ = 0;
};

} // namespace detail
} // namespace host
} // namespace mirai
