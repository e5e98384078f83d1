// Signals to a whole host process. Ctrl-C (SIGINT) interrupts the R code
// the host runs instead of killing it. A host killed with SIGKILL leaves
// no daemon and no background child of a task behind, and the next host
// removes its private directory. Each test runs
// lifecycle_program as a child process.
#include "tests/host/program_runner.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

using namespace mirai::test;

namespace {

const std::string program = MIRAI_LIFECYCLE_PROGRAM;

void pause_ms(int ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

bool path_exists(const std::string& path)
{
    struct stat info;
    return stat(path.c_str(), &info) == 0;
}

// The directory of an ipc:// URL's socket.
std::string socket_dir(const std::string& url)
{
    std::string path = url.substr(std::string("ipc://").size());
    return path.substr(0, path.rfind('/'));
}

// Wait up to timeout_ms for every pid to end; true when all did.
bool all_end_within(const std::vector<pid_t>& pids, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        bool is_done = true;
        for (pid_t pid : pids) {
            is_done = has_ended(pid) && is_done;
        }
        if (is_done) {
            return true;
        }
        pause_ms(10);
    }
    return false;
}

} // namespace

TEST_CASE("SIGINT interrupts a sync task and the host carries on",
    "[host][r][signal]")
{
    std::string code;
    SECTION("busy R loop")
    {
        code = "repeat {}";
    }
    SECTION("Sys.sleep")
    {
        code = "Sys.sleep(30)";
    }

    temp_dir tmp;
    program_runner run(program, {"sync-task", code}, tmp.path());
    REQUIRE(run.read_value("ready", 30000) == "ready");
    pause_ms(300);

    long long start = now_ms();
    kill(run.pid(), SIGINT);
    CHECK(run.read_value("result", 5000) == "interrupt");
    CHECK(now_ms() - start < 1000);
    // The interrupt does not leak into the next task.
    CHECK(run.read_value("next", 5000) == "2");
    CHECK(run.wait_exit(10000) == 0);
}

TEST_CASE("SIGINT interrupts session evaluate", "[host][r][signal]")
{
    temp_dir tmp;
    program_runner run(program, {"evaluate", "Sys.sleep(30)"}, tmp.path());
    REQUIRE(run.read_value("ready", 30000) == "ready");
    pause_ms(300);

    long long start = now_ms();
    kill(run.pid(), SIGINT);
    CHECK(run.read_value("result", 5000) ==
          "evaluate R code: interrupted");
    CHECK(now_ms() - start < 1000);
    CHECK(run.read_value("next", 5000) == "4");
    CHECK(run.wait_exit(10000) == 0);
}

TEST_CASE("SIGINT ends a wait and the task still resolves",
    "[host][r][signal]")
{
    temp_dir tmp;
    program_runner run(program, {"wait"}, tmp.path());
    REQUIRE(run.read_value("ready", 30000) == "ready");
    pause_ms(300);

    long long start = now_ms();
    kill(run.pid(), SIGINT);
    std::string waited = run.read_value("wait", 5000);
    CHECK_THAT(waited, Catch::StartsWith("wait for task 1: interrupted"));
    CHECK(now_ms() - start < 1000);
    CHECK(run.read_value("value", 5000) == "7");
    CHECK(run.wait_exit(10000) == 0);
}

TEST_CASE("SIGINT kills the process again once the session ends",
    "[host][r][signal]")
{
    temp_dir tmp;
    program_runner run(program, {"ended"}, tmp.path());
    REQUIRE(run.read_value("ready", 30000) == "ready");

    kill(run.pid(), SIGINT);
    CHECK(run.wait_exit(5000) == -1);
}

TEST_CASE("daemons and task children end when the host is killed",
    "[host][r][signal][slow]")
{
    // Orphans become children of this process, so they can be reaped
    // and, should the test fail, killed.
    REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    temp_dir tmp;
    program_runner run(program, {"orphan"}, tmp.path());

    std::vector<pid_t> daemons;
    std::string line;
    while (!(line = run.read_value("daemon", 30000)).empty()) {
        daemons.push_back(static_cast<pid_t>(std::stol(line)));
        if (daemons.size() == 2) {
            break;
        }
    }
    REQUIRE(daemons.size() == 2);
    pid_t child = static_cast<pid_t>(std::stol(run.read_value("child", 5000)));
    std::string dir = socket_dir(run.read_value("url", 5000));
    REQUIRE(run.read_value("ready", 5000) == "ready");
    for (pid_t pid : daemons) {
        run.adopt(pid);
    }
    run.adopt(child);
    CHECK_FALSE(has_ended(child));

    kill(run.pid(), SIGKILL);
    CHECK(run.wait_exit(5000) == -1);
    long long start = now_ms();
    CHECK(all_end_within(daemons, 5000));
    CHECK(all_end_within({child}, 5000));
    INFO("ended after " << now_ms() - start << " ms");

    // The killed host's directory is still there until the next host
    // starts.
    CHECK(path_exists(dir));
    program_runner next(program, {"reset"}, tmp.path());
    std::string next_dir = socket_dir(next.read_value("url", 30000));
    CHECK(next.wait_exit(10000) == 0);
    CHECK_FALSE(path_exists(dir));
    CHECK_FALSE(path_exists(next_dir));
}
