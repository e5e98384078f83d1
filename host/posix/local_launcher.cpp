#include "host/detail/local_launcher.hpp"

#include "host/error.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace mirai {
namespace host {
namespace detail {

namespace {

std::string errno_text(int code)
{
    return std::strerror(code);
}

int remove_entry(const char* path, const struct stat*, int, struct FTW*)
{
    return ::remove(path);
}

// The environment of a daemon: ours, with TMPDIR replaced.
std::vector<std::string> daemon_environment(const std::string& tmpdir)
{
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; e++) {
        if (std::strncmp(*e, "TMPDIR=", 7) != 0) {
            env.emplace_back(*e);
        }
    }
    env.push_back("TMPDIR=" + tmpdir);
    return env;
}

std::vector<char*> to_argv(std::vector<std::string>& strings)
{
    std::vector<char*> out;
    for (std::string& s : strings) {
        out.push_back(s.data());
    }
    out.push_back(nullptr);
    return out;
}

} // namespace

private_dir::private_dir()
{
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") +
                          "/mirai-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw error("create private directory '" + pattern +
                    "': " + errno_text(errno));
    }
    path_ = pattern;
}

private_dir::~private_dir()
{
    ::nftw(path_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

std::string daemon_executable()
{
    const char* env = std::getenv("MIRAI_DAEMON");
    if (env != nullptr && *env != '\0') {
        return env;
    }
#ifdef MIRAI_DAEMON_PATH
    if (::access(MIRAI_DAEMON_PATH, X_OK) == 0) {
        return MIRAI_DAEMON_PATH;
    }
#endif // MIRAI_DAEMON_PATH
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        std::string dir(self);
        return dir.substr(0, dir.rfind('/')) + "/mirai-daemon";
    }
    return "mirai-daemon";
}

local_launcher::~local_launcher()
{
    stop_all(2000);
}

pid_t local_launcher::spawn(const std::string& url)
{
    std::string exe = daemon_executable();
    std::string tmpdir = dir_ + "/daemon-" + std::to_string(++spawned_);
    if (::mkdir(tmpdir.c_str(), 0700) != 0 && errno != EEXIST) {
        throw error("create daemon directory '" + tmpdir +
                    "': " + errno_text(errno));
    }
    std::vector<std::string> args = {exe, "--url", url};
    std::vector<std::string> env = daemon_environment(tmpdir);
    std::vector<char*> argv = to_argv(args);
    std::vector<char*> envp = to_argv(env);

    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(),
                           envp.data());
    if (rc != 0) {
        throw error("start daemon '" + exe + "': " + errno_text(rc));
    }
    pids_.push_back(pid);
    return pid;
}

int local_launcher::reap_exited()
{
    int reaped = 0;
    for (auto it = pids_.begin(); it != pids_.end();) {
        if (::waitpid(*it, nullptr, WNOHANG) == *it) {
            it = pids_.erase(it);
            reaped++;
        } else {
            ++it;
        }
    }
    return reaped;
}

void local_launcher::stop_all(int grace_ms)
{
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(grace_ms);
    while (!pids_.empty() && std::chrono::steady_clock::now() < deadline) {
        reap_exited();
        if (!pids_.empty()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    for (pid_t pid : pids_) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
    pids_.clear();
}

} // namespace detail
} // namespace host
} // namespace mirai
