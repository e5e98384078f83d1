// Shared set-up for host tests: the process's one session, and a look at
// the mirai-daemon processes this test process started.
#pragma once

#include "host/mirai.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace mirai {
namespace test {

// The session of this test process, created on first use on the calling
// thread (test cases run on the main thread).
inline host::session& host_session()
{
    static host::session* s = new host::session();
    return *s;
}

// Live (not zombie) child processes of this process named mirai-daemon.
inline std::vector<pid_t> live_daemons()
{
    std::vector<pid_t> out;
    DIR* proc = opendir("/proc");
    if (proc == nullptr) {
        return out;
    }
    while (dirent* entry = readdir(proc)) {
        pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
        if (pid <= 0) {
            continue;
        }
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string pid_field, comm, state;
        pid_t parent = 0;
        if (stat >> pid_field >> comm >> state >> parent &&
            parent == getpid() && comm == "(mirai-daemon)" && state != "Z") {
            out.push_back(pid);
        }
    }
    closedir(proc);
    return out;
}

// True when process pid is gone or a zombie.
inline bool is_gone(pid_t pid)
{
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field, comm, state;
    if (!(stat >> pid_field >> comm >> state)) {
        return true;
    }
    return state == "Z";
}

// Reset every profile at the end of a test and check that no daemon of
// this process is left.
struct daemons_guard {
    ~daemons_guard()
    {
        host::reset_all_daemons();
        CHECK(live_daemons().empty());
    }
};

inline double seconds_since(std::chrono::steady_clock::time_point start)
{
    std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
    return d.count();
}

// Wait until task runs on a daemon and return that daemon's pid; fails
// the test after 10 s.
inline std::uint64_t wait_running(const host::handle& task)
{
    auto start = std::chrono::steady_clock::now();
    while (seconds_since(start) < 10) {
        for (const host::daemon_status& d : host::status().daemons) {
            if (d.task_id == task.id()) {
                return d.pid;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    FAIL("task " << task.id() << " did not start within 10 s");
    return 0;
}

} // namespace test
} // namespace mirai
