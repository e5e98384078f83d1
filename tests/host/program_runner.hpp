// Running tests/host/lifecycle_program as a child process: its stdout
// comes back through a pipe, line by line, and the runner signals it,
// kills it, or waits for it. The destructor kills and reaps whatever is
// left, including processes adopted as a child subreaper.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace mirai {
namespace test {

class program_runner {
public:
    // Start program with args and TMPDIR set to tmpdir. Fails the test
    // when it cannot be spawned.
    program_runner(const std::string& program,
                   const std::vector<std::string>& args,
                   const std::string& tmpdir);
    ~program_runner();
    program_runner(const program_runner&) = delete;
    program_runner& operator=(const program_runner&) = delete;

    pid_t pid() const { return pid_; }

    // The next line of output without its newline, or "" after
    // timeout_ms or at end of output.
    std::string read_line(int timeout_ms);

    // The value of the next line that starts with "key: ", skipping
    // others, or "" when none arrives within timeout_ms.
    std::string read_value(const std::string& key, int timeout_ms);

    // Wait up to timeout_ms for the program to exit and return its exit
    // status. Returns -1 when a signal ended it, and -2 when it still
    // runs after timeout_ms, in which case it is killed.
    int wait_exit(int timeout_ms);

    // Also kill and reap pid at destruction (an adopted daemon).
    void adopt(pid_t pid) { adopted_.push_back(pid); }

private:
    pid_t pid_ = -1;
    bool is_reaped_ = false;
    int out_fd_ = -1;
    std::string buffer_;
    std::vector<pid_t> adopted_;
};

// A fresh directory under /tmp, removed with its contents at scope end.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// True when pid no longer runs: gone, or a zombie. Reaps it when it is a
// child of this process.
bool has_ended(pid_t pid);

long long now_ms();

} // namespace test
} // namespace mirai
