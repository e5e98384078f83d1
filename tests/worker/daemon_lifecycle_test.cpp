// Cancelling tasks and ending daemons: by a cancel frame, an exit frame,
// or the host closing its socket, whether the daemon is idle or busy.
#include "tests/worker/daemon_harness.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>

#include <chrono>
#include <thread>

using namespace mirai::test;

namespace {

// Entries in dir other than "." and "..".
int count_entries(const std::string& dir)
{
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
        return -1;
    }
    int count = 0;
    while (dirent* entry = readdir(d)) {
        std::string name = entry->d_name;
        count += name != "." && name != "..";
    }
    closedir(d);
    return count;
}

void pause_ms(int ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// Start a task that runs far longer than any test, and give the daemon
// time to begin evaluating it.
void start_long_task(daemon_harness& harness, std::uint64_t id,
    const std::string& code)
{
    harness.send(DSP_FRAME_TASK, id, task_payload(code));
    pause_ms(300);
}

} // namespace

TEST_CASE("daemon interrupts a cancelled task and runs the next",
    "[worker][r][net]")
{
    std::string code;
    SECTION("task blocked in Sys.sleep")
    {
        code = "Sys.sleep(10)";
    }
    SECTION("task busy in an R loop")
    {
        code = "repeat {}";
    }

    daemon_harness harness;
    pid_t pid = harness.spawn_connected();
    start_long_task(harness, 11, code);

    long long start = now_ms();
    harness.send(DSP_FRAME_CANCEL, 11, {});
    received_frame result = harness.receive(1000);
    CHECK(elapsed_ms(start) < 1000);
    CHECK(result.header.type == DSP_FRAME_RESULT);
    CHECK(result.header.task_id == 11);
    CHECK(result.header.flags == DSP_RESULT_INTERRUPT);
    CHECK(Rf_inherits(unserialize_payload(result), "miraiInterrupt"));

    harness.send(DSP_FRAME_TASK, 12, task_payload("Sys.sleep(0.2); Sys.getpid()"));
    received_frame next = harness.receive(5000);
    CHECK(next.header.task_id == 12);
    CHECK(next.header.flags == DSP_RESULT_VALUE);
    CHECK(Rcpp::as<int>(unserialize_payload(next)) == pid);
    // The acknowledgement may come before or after the interrupted result,
    // but always before the next result.
    CHECK(harness.cancel_acks() == std::vector<std::uint64_t>{11});

    harness.send(DSP_FRAME_EXIT, 0, {});
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    CHECK(has_no_children());
}

TEST_CASE("daemon skips a task cancelled while queued", "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected();

    harness.send(DSP_FRAME_TASK, 21, task_payload("Sys.sleep(0.5); 21L"));
    harness.send(DSP_FRAME_TASK, 22,
        task_payload("assign('ran', TRUE, envir = globalenv()); 22L"));
    harness.send(DSP_FRAME_CANCEL, 22, {});

    received_frame first = harness.receive(5000);
    CHECK(first.header.task_id == 21);
    CHECK(first.header.flags == DSP_RESULT_VALUE);
    received_frame second = harness.receive(5000);
    CHECK(second.header.task_id == 22);
    CHECK(second.header.flags == DSP_RESULT_INTERRUPT);

    harness.send(DSP_FRAME_TASK, 23, task_payload("exists('ran')"));
    CHECK_FALSE(Rcpp::as<bool>(unserialize_payload(harness.receive(5000))));

    SECTION("and ignores a cancel for a finished task")
    {
        harness.send(DSP_FRAME_CANCEL, 21, {});
        harness.send(DSP_FRAME_TASK, 24, task_payload("Sys.sleep(0.3); 24L"));
        received_frame late = harness.receive(5000);
        CHECK(late.header.task_id == 24);
        CHECK(late.header.flags == DSP_RESULT_VALUE);
    }

    harness.close_socket();
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    CHECK(has_no_children());
}

TEST_CASE("daemon exits at once on an exit frame", "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected();

    SECTION("while idle")
    {
    }
    SECTION("while a task sleeps")
    {
        start_long_task(harness, 31, "Sys.sleep(30)");
    }

    long long start = now_ms();
    harness.send(DSP_FRAME_EXIT, 0, {});
    process_end end = harness.wait_end(pid, 5000);
    CHECK(elapsed_ms(start) < 1000);
    CHECK_FALSE(end.is_timed_out);
    CHECK(end.exit_code == 0);
    // R removed its session directory on the way out.
    CHECK(count_entries(harness.r_tmpdir()) == 0);
    CHECK(has_no_children());
}

TEST_CASE("daemon exits when the host closes its socket", "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected();

    SECTION("while idle")
    {
    }
    SECTION("while a task sleeps")
    {
        start_long_task(harness, 41, "Sys.sleep(30)");
    }
    SECTION("while a task ignores interrupts")
    {
        // The interrupt is swallowed, so the grace period must end it.
        start_long_task(harness, 42,
            "repeat tryCatch(Sys.sleep(30), interrupt = function(e) NULL)");
    }

    long long start = now_ms();
    harness.close_socket();
    process_end end = harness.wait_end(pid, 5000);
    CHECK(elapsed_ms(start) < 1000);
    CHECK_FALSE(end.is_timed_out);
    CHECK(end.exit_code == 0);
    CHECK(count_entries(harness.r_tmpdir()) == 0);
    CHECK_THAT(harness.errors(pid), !Catch::Contains("[error]"));
    CHECK(has_no_children());
}
