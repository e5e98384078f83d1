#include "tests/host/program_runner.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

extern char** environ;

namespace mirai {
namespace test {

namespace {

int remove_entry(const char* path, const struct stat*, int, struct FTW*)
{
    std::remove(path);
    return 0;
}

std::vector<char*> c_strings(std::vector<std::string>& strings)
{
    std::vector<char*> out;
    for (std::string& s : strings) {
        out.push_back(&s[0]);
    }
    out.push_back(nullptr);
    return out;
}

} // namespace

long long now_ms()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(
               steady_clock::now().time_since_epoch())
        .count();
}

program_runner::program_runner(const std::string& program,
                               const std::vector<std::string>& args,
                               const std::string& tmpdir)
{
    std::vector<std::string> argv_strings = {program};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; e++) {
        if (std::strncmp(*e, "TMPDIR=", 7) != 0) {
            env_strings.push_back(*e);
        }
    }
    env_strings.push_back("TMPDIR=" + tmpdir);
    std::vector<char*> argv = c_strings(argv_strings);
    std::vector<char*> env = c_strings(env_strings);

    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    int rv = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(),
                         env.data());
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_fd_ = fds[0];
    REQUIRE(rv == 0);
}

program_runner::~program_runner()
{
    if (!is_reaped_) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    for (pid_t pid : adopted_) {
        if (!has_ended(pid)) {
            kill(pid, SIGKILL);
        }
        waitpid(pid, nullptr, 0);
    }
    close(out_fd_);
}

std::string program_runner::read_line(int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    while (true) {
        std::size_t newline = buffer_.find('\n');
        if (newline != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            return line;
        }
        long long left = deadline - now_ms();
        if (left <= 0) {
            return "";
        }
        pollfd p = {out_fd_, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left)) <= 0) {
            continue;
        }
        char chunk[512];
        ssize_t n = read(out_fd_, chunk, sizeof(chunk));
        if (n <= 0) {
            return "";
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }
}

std::string program_runner::read_value(const std::string& key,
                                       int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    std::string prefix = key + ": ";
    while (now_ms() < deadline) {
        std::string line = read_line(static_cast<int>(deadline - now_ms()));
        if (line.rfind(prefix, 0) == 0) {
            return line.substr(prefix.size());
        }
        if (line == key) {
            return key;
        }
    }
    return "";
}

int program_runner::wait_exit(int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(pid_, SIGKILL);
            waitpid(pid_, &status, 0);
            is_reaped_ = true;
            return -2;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    is_reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

temp_dir::temp_dir()
{
    char pattern[] = "/tmp/mirai-host-test-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path_ = pattern;
}

temp_dir::~temp_dir()
{
    nftw(path_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

bool has_ended(pid_t pid)
{
    waitpid(pid, nullptr, WNOHANG);
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field, comm, state;
    if (!(stat >> pid_field >> comm >> state)) {
        return true;
    }
    return state == "Z";
}

} // namespace test
} // namespace mirai
