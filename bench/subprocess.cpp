// Processes are started with posix_spawn, as the host does with daemons,
// because NNG is not safe across a plain fork.
#include "bench/subprocess.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace mirai {
namespace bench {

namespace {

std::string errno_text(int code)
{
    return std::strerror(code);
}

int wait_status(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return 127;
        }
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return 128 + WTERMSIG(status);
}

} // namespace

process_output run_capture(const std::vector<std::string>& argv)
{
    if (argv.empty()) {
        throw std::invalid_argument("run program: empty command line");
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error("run '" + argv[0] +
                                 "': create pipe: " + errno_text(errno));
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);

    pid_t pid;
    int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(),
                          environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        throw std::runtime_error("run '" + argv[0] + "': " + errno_text(rc));
    }

    process_output result{0, {}};
    char buffer[4096];
    while (true) {
        ssize_t n = read(fds[0], buffer, sizeof(buffer));
        if (n > 0) {
            result.out.append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    close(fds[0]);
    result.exit_status = wait_status(pid);
    return result;
}

} // namespace bench
} // namespace mirai
