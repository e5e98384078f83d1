// The options that shape a daemon's life: the limits that retire it
// (maxtasks, idletime, walltime), cleanup between tasks, and autoexit,
// checked on real mirai-daemon processes against a test listener.
#include "tests/worker/daemon_harness.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <thread>

using namespace mirai::test;

namespace {

// Expect the daemon's retire request (an exit frame), reply with an exit
// frame as the dispatcher does, and return how the daemon ended.
process_end expect_retire(daemon_harness& harness, pid_t pid, int timeout_ms)
{
    received_frame retire = harness.receive(timeout_ms);
    CHECK(retire.header.type == DSP_FRAME_EXIT);
    harness.send(DSP_FRAME_EXIT, 0, {});
    return harness.wait_end(pid, 5000);
}

int run_int_task(daemon_harness& harness, std::uint64_t id,
    const std::string& code)
{
    harness.send(DSP_FRAME_TASK, id, task_payload(code));
    received_frame result = harness.receive(10000);
    REQUIRE(result.header.type == DSP_FRAME_RESULT);
    REQUIRE(result.header.task_id == id);
    REQUIRE(result.header.flags == DSP_RESULT_VALUE);
    return Rcpp::as<int>(unserialize_payload(result));
}

// Run the task that reaches a limit. The daemon requests to retire before
// it returns the result, so that a dispatcher sends it nothing more. Reply
// with an exit frame and return how the daemon ended.
process_end run_retiring_task(daemon_harness& harness, pid_t pid,
    std::uint64_t id, const std::string& code, int expected)
{
    harness.send(DSP_FRAME_TASK, id, task_payload(code));
    received_frame retire = harness.receive(10000);
    CHECK(retire.header.type == DSP_FRAME_EXIT);
    received_frame result = harness.receive(10000);
    REQUIRE(result.header.type == DSP_FRAME_RESULT);
    CHECK(result.header.task_id == id);
    CHECK(Rcpp::as<int>(unserialize_payload(result)) == expected);
    harness.send(DSP_FRAME_EXIT, 0, {});
    return harness.wait_end(pid, 5000);
}

bool file_exists(const std::string& path)
{
    struct stat info;
    return stat(path.c_str(), &info) == 0;
}

} // namespace

TEST_CASE("daemon retires with status 3 after maxtasks",
    "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected(10000, {"--maxtasks", "2"});

    CHECK(run_int_task(harness, 1, "1L") == 1);
    // A setup does not count as a task.
    harness.send(DSP_FRAME_SETUP, 100, task_payload("NULL"));
    CHECK(harness.receive(5000).header.type == DSP_FRAME_SETUP);
    process_end end = run_retiring_task(harness, pid, 2, "2L", 2);
    CHECK_FALSE(end.is_timed_out);
    CHECK(end.exit_code == 3);
    CHECK(has_no_children());
}

TEST_CASE("daemon runs a task sent while it retires", "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected(10000, {"--idletime", "300"});

    // The task crosses the retire request, as it can with a dispatcher
    // that has not yet read it. The daemon still returns its result.
    received_frame retire = harness.receive(5000);
    CHECK(retire.header.type == DSP_FRAME_EXIT);
    harness.send(DSP_FRAME_TASK, 7, task_payload("7L"));
    harness.send(DSP_FRAME_EXIT, 0, {});
    received_frame result = harness.receive(5000);
    CHECK(result.header.task_id == 7);
    CHECK(Rcpp::as<int>(unserialize_payload(result)) == 7);

    process_end end = harness.wait_end(pid, 5000);
    CHECK(end.exit_code == 1);
    CHECK(has_no_children());
}

TEST_CASE("daemon retires with status 1 after idletime",
    "[worker][r][net]")
{
    task_payload("NULL"); // start the test's R before the clock runs
    daemon_harness harness;
    pid_t pid = harness.spawn_connected(10000, {"--idletime", "1000"});
    CHECK(run_int_task(harness, 1, "Sys.sleep(1.5); 1L") == 1);

    // The idle clock starts after the task, not at start-up.
    long long start = now_ms();
    process_end end = expect_retire(harness, pid, 5000);
    CHECK(elapsed_ms(start) >= 900);
    CHECK_FALSE(end.is_timed_out);
    CHECK(end.exit_code == 1);
    CHECK(has_no_children());
}

TEST_CASE("daemon retires with status 2 after walltime", "[worker][r][net]")
{
    task_payload("NULL"); // start the test's R before the clock runs
    daemon_harness harness;
    pid_t pid = harness.spawn_connected(10000, {"--walltime", "1500"});

    process_end end;
    SECTION("between tasks: the running task is not stopped")
    {
        end = run_retiring_task(harness, pid, 1, "Sys.sleep(2); 1L", 1);
    }
    SECTION("while idle")
    {
        end = expect_retire(harness, pid, 5000);
    }
    CHECK_FALSE(end.is_timed_out);
    CHECK(end.exit_code == 2);
    CHECK(has_no_children());
}

TEST_CASE("daemon exits at once without a host to retire from",
    "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected(10000,
        {"--autoexit", "false", "--idletime", "500"});
    harness.close_socket();

    process_end end = harness.wait_end(pid, 5000);
    CHECK_FALSE(end.is_timed_out);
    CHECK(end.exit_code == 1);
    CHECK(has_no_children());
}

TEST_CASE("daemon cleanup restores R between tasks", "[worker][r][net]")
{
    daemon_harness harness;
    std::vector<std::string> extra;
    bool is_cleanup = true;
    SECTION("cleanup true (default)")
    {
    }
    SECTION("cleanup false")
    {
        extra = {"--cleanup", "false"};
        is_cleanup = false;
    }
    pid_t pid = harness.spawn_connected(10000, extra);

    // A setup's globals stay either way.
    harness.send(DSP_FRAME_SETUP, 100,
        task_payload("assign('kept', 5L, envir = globalenv())"));
    CHECK(harness.receive(5000).header.type == DSP_FRAME_SETUP);

    CHECK(run_int_task(harness, 1,
        "assign('stray', 1, envir = globalenv());"
        "assign('kept', 99L, envir = globalenv());"
        "options(mirai.test.option = 1, digits = 3);"
        "library(tools); 1L") == 1);
    CHECK(run_int_task(harness, 2, "get('kept', envir = globalenv())") ==
        (is_cleanup ? 5 : 99));
    CHECK(run_int_task(harness, 3, "as.integer(exists('stray'))") ==
        (is_cleanup ? 0 : 1));
    CHECK(run_int_task(harness, 4,
        "as.integer(is.null(getOption('mirai.test.option')))") ==
        (is_cleanup ? 1 : 0));
    CHECK(run_int_task(harness, 5, "getOption('digits')") ==
        (is_cleanup ? 7 : 3));
    CHECK(run_int_task(harness, 6,
        "as.integer('package:tools' %in% search())") == (is_cleanup ? 0 : 1));

    harness.send(DSP_FRAME_EXIT, 0, {});
    CHECK(harness.wait_end(pid, 5000).exit_code == 0);
    CHECK(has_no_children());
}

TEST_CASE("daemon with autoexit finish completes its task first",
    "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected(10000, {"--autoexit", "finish"});
    std::string marker = harness.dir() + "/finished";

    harness.send(DSP_FRAME_TASK, 1, task_payload(
        "Sys.sleep(1); writeLines('done', '" + marker + "'); 1L"));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    harness.close_socket();

    process_end end = harness.wait_end(pid, 5000);
    CHECK_FALSE(end.is_timed_out);
    CHECK(end.exit_code == 0);
    CHECK(file_exists(marker));
    std::ifstream in(marker);
    std::string text;
    std::getline(in, text);
    CHECK(text == "done");
    CHECK(has_no_children());
}

TEST_CASE("daemon with autoexit false serves the next host",
    "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected(10000, {"--autoexit", "false"});
    CHECK(run_int_task(harness, 1, "1L") == 1);

    SECTION("after an idle disconnect")
    {
        harness.close_socket();
    }
    SECTION("after a disconnect mid-task, dropping that result")
    {
        harness.send(DSP_FRAME_TASK, 2, task_payload("Sys.sleep(1); 2L"));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        harness.close_socket();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    // Still running: not yet reaped and no exit status.
    CHECK(waitpid(pid, nullptr, WNOHANG) == 0);

    harness.listen_again();
    harness.expect_hello(pid, 5000);
    CHECK(run_int_task(harness, 3, "Sys.sleep(1); 3L") == 3);

    harness.send(DSP_FRAME_EXIT, 0, {});
    process_end end = harness.wait_end(pid, 5000);
    CHECK(end.exit_code == 0);
    CHECK(has_no_children());
}
