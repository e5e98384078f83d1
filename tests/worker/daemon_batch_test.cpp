// Batch frames: a daemon runs the tasks of one frame in order, returns
// their results together, gives back the tasks it has not started when
// recalled, and rejects batches it did not offer to take.
#include "tests/worker/daemon_harness.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

using namespace mirai::test;

namespace {

// One task frame, header and payload, as a batch contains it.
void append_task(std::vector<unsigned char>& out, std::uint64_t id,
    const std::string& code)
{
    std::vector<unsigned char> payload = task_payload(code);
    std::size_t at = out.size();
    out.resize(at + DSP_HEADER_SIZE + payload.size());
    dsp_wire_encode(out.data() + at, DSP_FRAME_TASK, id, 0, payload.size());
    std::copy(payload.begin(), payload.end(),
        out.begin() + at + DSP_HEADER_SIZE);
}

// A batch payload of tasks with ids first, first + 1, ...
std::vector<unsigned char> batch_of(std::uint64_t first,
    const std::vector<std::string>& codes)
{
    std::vector<unsigned char> out;
    for (std::size_t i = 0; i < codes.size(); i++) {
        append_task(out, first + i, codes[i]);
    }
    return out;
}

void send_batch(daemon_harness& harness, std::uint64_t first,
    const std::vector<std::string>& codes)
{
    harness.send(DSP_FRAME_BATCH, first, batch_of(first, codes),
        static_cast<std::uint32_t>(codes.size()));
}

int int_value(const received_frame& frame)
{
    return Rcpp::as<int>(unserialize_payload(frame));
}

} // namespace

TEST_CASE("daemon runs a batch in order and returns results together",
    "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected();
    CHECK(harness.hello_max_batch() == DSP_MAX_BATCH);

    send_batch(harness, 40, {"x <- 1L; x", "exists('x')", "stop('no')",
                                "Sys.getpid()"});
    received_frame first = harness.receive(5000);
    CHECK(first.header.task_id == 40);
    CHECK(first.header.flags == DSP_RESULT_VALUE);
    CHECK(int_value(first) == 1);
    received_frame second = harness.receive(5000);
    CHECK(second.header.task_id == 41);
    // Each task runs in a fresh environment, as in a frame of its own.
    CHECK_FALSE(Rcpp::as<bool>(unserialize_payload(second)));
    received_frame third = harness.receive(5000);
    CHECK(third.header.task_id == 42);
    CHECK(third.header.flags == DSP_RESULT_ERROR);
    received_frame fourth = harness.receive(5000);
    CHECK(fourth.header.task_id == 43);
    CHECK(int_value(fourth) == pid);

    // Results held within a few milliseconds of each other travel in one
    // frame; how many per frame depends on the machine's speed.
    send_batch(harness, 50, std::vector<std::string>(20, "NULL"));
    for (std::uint64_t id = 50; id < 70; id++) {
        CHECK(harness.receive(5000).header.task_id == id);
    }
    REQUIRE_FALSE(harness.batches().empty());
    CHECK(harness.batches()[0] >= 2);

    harness.send(DSP_FRAME_EXIT, 0, {});
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    CHECK(has_no_children());
}

TEST_CASE("daemon sends held results before a slow task ends",
    "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected();

    send_batch(harness, 1, {"1L", "Sys.sleep(1); 2L"});
    long long start = now_ms();
    received_frame quick = harness.receive(5000);
    CHECK(quick.header.task_id == 1);
    CHECK(elapsed_ms(start) < 800);
    received_frame slow = harness.receive(5000);
    CHECK(slow.header.task_id == 2);
    CHECK(int_value(slow) == 2);
    CHECK(harness.batches().empty());

    harness.send(DSP_FRAME_EXIT, 0, {});
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
}

TEST_CASE("daemon gives back the tasks of a recalled batch",
    "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected();

    std::string started = harness.dir() + "/started";
    send_batch(harness, 10, {"file.create('" + started +
                                    "'); Sys.sleep(0.5); 10L",
                                "assign('ran', TRUE, envir = globalenv())",
                                "11L"});
    // Recall once the first task runs, so that exactly two are left.
    long long start = now_ms();
    while (access(started.c_str(), F_OK) != 0 && elapsed_ms(start) < 5000) {
        usleep(5000);
    }
    REQUIRE(access(started.c_str(), F_OK) == 0);
    harness.send(DSP_FRAME_RECALL, 0, {});

    // The tasks not started come back at once, while the first still runs.
    long long recalled = now_ms();
    for (std::uint64_t id : {11, 12}) {
        received_frame back = harness.receive(5000);
        CHECK(back.header.task_id == id);
        CHECK(back.header.flags == DSP_RESULT_RETURNED);
        CHECK(back.payload.empty());
    }
    CHECK(elapsed_ms(recalled) < 300);
    received_frame running = harness.receive(5000);
    CHECK(running.header.task_id == 10);
    CHECK(running.header.flags == DSP_RESULT_VALUE);
    CHECK(int_value(running) == 10);
    CHECK(harness.cancel_acks() == std::vector<std::uint64_t>{0});

    harness.send(DSP_FRAME_TASK, 13, task_payload("exists('ran')"));
    CHECK_FALSE(Rcpp::as<bool>(unserialize_payload(harness.receive(5000))));

    harness.send(DSP_FRAME_EXIT, 0, {});
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
}

TEST_CASE("daemon with a task limit takes one task at a time",
    "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected(10000, {"--maxtasks", "5"});
    CHECK(harness.hello_max_batch() == 1);

    send_batch(harness, 1, {"1L", "2L"});
    process_end end = harness.wait_end(pid, 2000);
    CHECK(end.exit_code == 70);
    CHECK_THAT(harness.errors(pid),
        Catch::Contains("receive frame from '" + harness.url() +
            "': batch of 2 tasks, expected 1 to 1"));
    CHECK(has_no_children());
}

TEST_CASE("daemon exits with status 70 on a malformed batch",
    "[worker][r][net]")
{
    std::vector<unsigned char> payload = batch_of(1, {"1L", "2L"});
    std::uint32_t count = 2;
    std::string expected;

    SECTION("a count that disagrees with the frames")
    {
        count = 3;
        expected = "batch: batch counts 3 tasks, has 2";
    }
    SECTION("a frame that runs past the batch")
    {
        payload.resize(payload.size() - 1);
        expected = "batch: payload length does not match the frame";
    }
    SECTION("a frame other than a task")
    {
        dsp__put_u16(payload.data() + 6, DSP_FRAME_SETUP);
        expected = "batch: frame type 4 in a batch, expected tasks only";
    }
    SECTION("an empty batch")
    {
        count = 0;
        expected = "batch of 0 tasks, expected 1 to 128";
    }

    daemon_harness harness;
    pid_t pid = harness.spawn_connected();
    harness.send(DSP_FRAME_BATCH, 1, payload, count);

    process_end end = harness.wait_end(pid, 2000);
    CHECK(end.exit_code == 70);
    CHECK_THAT(harness.errors(pid),
        Catch::Contains("receive frame from '" + harness.url() + "': " +
            expected));
    CHECK(has_no_children());
}

TEST_CASE("daemon with autoexit false drops a gone host's unstarted tasks",
    "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected(10000, {"--autoexit", "false"});
    std::string started = harness.dir() + "/started";
    std::string ran = harness.dir() + "/ran";

    send_batch(harness, 1, {"file.create('" + started +
                               "'); Sys.sleep(0.5); 1L",
                               "file.create('" + ran + "'); 2L"});
    long long start = now_ms();
    while (access(started.c_str(), F_OK) != 0 && elapsed_ms(start) < 5000) {
        usleep(5000);
    }
    REQUIRE(access(started.c_str(), F_OK) == 0);
    harness.close_socket();

    // The next host gets the daemon, and the second task never ran.
    harness.listen_again();
    harness.expect_hello(pid, 10000);
    harness.send(DSP_FRAME_TASK, 3, task_payload("3L"));
    received_frame next = harness.receive(5000);
    CHECK(next.header.task_id == 3);
    CHECK(int_value(next) == 3);
    CHECK(access(ran.c_str(), F_OK) != 0);

    harness.send(DSP_FRAME_EXIT, 0, {});
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    CHECK(has_no_children());
}
