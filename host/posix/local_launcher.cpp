#include "host/detail/local_launcher.hpp"

#include "host/error.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <dirent.h>
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

// The start time of process pid in clock ticks after boot (field 22 of
// /proc/<pid>/stat), or an empty string when no such process runs. With
// the pid it names a process even after the pid is reused.
std::string process_start_time(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) {
        return "";
    }
    // The command name in field 2 may hold spaces, so count from its end.
    std::size_t paren = line.rfind(')');
    if (paren == std::string::npos) {
        return "";
    }
    std::istringstream fields(line.substr(paren + 1));
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; i++) {
        if (i == 22) {
            return field;
        }
    }
    return "";
}

// True when the owner file in dir names a process that no longer runs.
// A directory without a readable owner file is never stale: it may be
// one that another host is still setting up.
// Limitation: a host in another PID namespace that shares this $TMPDIR
// (a container mounting the same /tmp) looks dead from here, so its
// directory would be removed. Per-namespace TMPDIRs avoid it.
bool is_stale(const std::string& dir)
{
    std::ifstream in(dir + "/owner");
    long pid = 0;
    std::string start_time;
    if (!(in >> pid >> start_time) || pid <= 0) {
        return false;
    }
    return process_start_time(static_cast<pid_t>(pid)) != start_time;
}

void remove_tree(const std::string& path)
{
    ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

std::string temp_base()
{
    const char* base = std::getenv("TMPDIR");
    return base && *base ? base : "/tmp";
}

// The posix_spawn attributes of a daemon. Its stdin is /dev/null, and its
// stdout and stderr are the host's or /dev/null. It gets a process group
// of its own, so that Ctrl-C in a terminal reaches the host alone and the
// daemon can end what its tasks started. It starts with no blocked
// signals, and the signals a host might ignore are back at defaults.
struct spawn_setup {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;

    explicit spawn_setup(bool output)
    {
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY,
                                         0);
        if (!output) {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null",
                                             O_WRONLY, 0);
            posix_spawn_file_actions_adddup2(&actions, 1, 2);
        }
        posix_spawnattr_init(&attr);
        posix_spawnattr_setpgroup(&attr, 0);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none);
        sigset_t defaults;
        sigemptyset(&defaults);
        sigaddset(&defaults, SIGINT);
        sigaddset(&defaults, SIGTERM);
        sigaddset(&defaults, SIGPIPE);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                            POSIX_SPAWN_SETSIGMASK |
                                            POSIX_SPAWN_SETSIGDEF);
    }

    ~spawn_setup()
    {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }

    spawn_setup(const spawn_setup&) = delete;
    spawn_setup& operator=(const spawn_setup&) = delete;
};

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

int remove_stale_dirs(const std::string& base)
{
    DIR* d = ::opendir(base.c_str());
    if (d == nullptr) {
        return 0;
    }
    int removed = 0;
    while (dirent* entry = ::readdir(d)) {
        std::string name = entry->d_name;
        std::string path = base + "/" + name;
        struct stat info;
        bool is_candidate = name.rfind("mirai-", 0) == 0 &&
                            ::lstat(path.c_str(), &info) == 0 &&
                            S_ISDIR(info.st_mode) &&
                            info.st_uid == ::getuid();
        if (is_candidate && is_stale(path)) {
            remove_tree(path);
            removed++;
        }
    }
    ::closedir(d);
    return removed;
}

private_dir::private_dir()
{
    std::string base = temp_base();
    remove_stale_dirs(base);
    std::string pattern = base + "/mirai-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw error("create private directory '" + pattern +
                    "': " + errno_text(errno));
    }
    path_ = pattern;

    std::ofstream owner(path_ + "/owner");
    owner << ::getpid() << ' ' << process_start_time(::getpid()) << '\n';
    if (!owner) {
        remove_tree(path_);
        throw error("write '" + path_ + "/owner': " + errno_text(errno));
    }
}

private_dir::~private_dir()
{
    remove_tree(path_);
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
    args.insert(args.end(), settings_.args.begin(), settings_.args.end());
    std::vector<std::string> env = daemon_environment(tmpdir);
    std::vector<char*> argv = to_argv(args);
    std::vector<char*> envp = to_argv(env);

    spawn_setup setup(settings_.output);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, exe.c_str(), &setup.actions, &setup.attr,
                           argv.data(), envp.data());
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
