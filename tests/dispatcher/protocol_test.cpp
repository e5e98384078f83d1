// Malformed frames close the offending pipe, are logged with the pipe id,
// and leave the dispatcher serving everyone else.
#include "dispatcher/dispatcher.h"

#include "tests/dispatcher/dispatcher_fixture.hpp"

#include <catch2/catch.hpp>

using namespace mirai::test;

namespace {

std::string pid_bytes(uint64_t pid)
{
    std::string out(8, '\0');
    for (int i = 0; i < 8; i++) {
        out[i] = static_cast<char>(pid >> (8 * i));
    }
    return out;
}

// Check that the dispatcher still runs a task for a well-behaved daemon.
void check_still_serving(dispatcher_fixture& f)
{
    size_t before = f.sink.size();
    fake_daemon good(f.url(), 500);
    uint64_t id = f.submit("still here");
    REQUIRE(f.sink.wait_count(before + 1, 5s));
    CHECK(f.sink.find(id).payload == "still here");
}

} // namespace

TEST_CASE("malformed frames close the pipe", "[dispatcher][net]")
{
    dispatcher_fixture f;
    log_capture log;
    fake_daemon::options silent;
    silent.sends_hello = false;
    fake_daemon peer(f.url(), silent);
    std::string expected;

    SECTION("bytes that are not a frame")
    {
        peer.send_raw("hello there, this is not a frame at all");
        expected = "bad magic number";
    }
    SECTION("a frame shorter than a header")
    {
        peer.send_raw("MIRA");
        expected = "frame shorter than its header";
    }
    SECTION("a frame of an unknown type")
    {
        std::string bytes = fake_daemon::encode(DSP_FRAME_HELLO, 0, 0, "");
        bytes[6] = 9;
        peer.send_raw(bytes);
        expected = "unknown frame type";
    }
    SECTION("a payload length that disagrees with the message")
    {
        peer.send_raw(fake_daemon::encode(DSP_FRAME_HELLO, 0, 0,
                          pid_bytes(1)) +
            "x");
        expected = "payload length does not match the frame";
    }
    SECTION("a result before hello")
    {
        peer.send_frame(DSP_FRAME_RESULT, 1, 0, "value");
        expected = "expected hello first, got frame type 2";
    }
    SECTION("a hello with a short payload")
    {
        peer.send_frame(DSP_FRAME_HELLO, 0, 0, "1234");
        expected = "hello payload has 4 bytes, expected 8 or 16";
    }
    SECTION("a second hello")
    {
        peer.send_frame(DSP_FRAME_HELLO, 0, 0, pid_bytes(3));
        f.wait_connections(1);
        peer.send_frame(DSP_FRAME_HELLO, 0, 0, pid_bytes(3));
        expected = "second hello from daemon 1";
    }
    SECTION("a result for a task it is not running")
    {
        peer.send_frame(DSP_FRAME_HELLO, 0, 0, pid_bytes(3));
        f.wait_connections(1);
        peer.send_frame(DSP_FRAME_RESULT, 77, 0, "value");
        expected = "result for task 77, which is not pending on daemon 1";
    }
    SECTION("a hello asking for batches of no task")
    {
        peer.send_frame(DSP_FRAME_HELLO, 0, 0,
            pid_bytes(3) + std::string(8, '\0'));
        expected = "hello asks for batches of 0 tasks with reserved bytes "
                   "0, expected at least 1 and 0";
    }
    SECTION("an empty batch")
    {
        peer.send_frame(DSP_FRAME_HELLO, 0, 0, pid_bytes(3));
        f.wait_connections(1);
        peer.send_frame(DSP_FRAME_BATCH, 0, 0, "");
        expected = "batch of 0 results, expected 1 to 128";
    }
    SECTION("a batch that counts more results than it has")
    {
        peer.send_frame(DSP_FRAME_HELLO, 0, 0, pid_bytes(3));
        f.wait_connections(1);
        peer.send_frame(DSP_FRAME_BATCH, 0, 1, "");
        expected = "batch counts 1 results, has 0";
    }
    SECTION("a batch holding a task frame")
    {
        peer.send_frame(DSP_FRAME_HELLO, 0, 0, pid_bytes(3));
        f.wait_connections(1);
        peer.send_frame(DSP_FRAME_BATCH, 0, 1,
            fake_daemon::encode(DSP_FRAME_TASK, 1, 0, ""));
        expected = "frame 1 of a batch of 1: not a valid result frame";
    }
    SECTION("a task frame from a daemon")
    {
        peer.send_frame(DSP_FRAME_HELLO, 0, 0, pid_bytes(3));
        f.wait_connections(1);
        peer.send_frame(DSP_FRAME_TASK, 1, 0, "");
        expected = "unexpected frame type 1 from a daemon";
    }
    SECTION("result flags out of range")
    {
        peer.send_frame(DSP_FRAME_HELLO, 0, 0, pid_bytes(3));
        f.wait_connections(1);
        peer.send_frame(DSP_FRAME_RESULT, 1, 9, "");
        expected = "invalid result flags 9";
    }
    SECTION("an acknowledgement of a setup never sent")
    {
        peer.send_frame(DSP_FRAME_HELLO, 0, 0, pid_bytes(3));
        f.wait_connections(1);
        peer.send_frame(DSP_FRAME_SETUP, 5, 0, "");
        expected = "acknowledgement of setup 5 out of order";
    }

    REQUIRE(peer.wait_disconnected(5s));
    auto invalid = log.messages("DSP-FRAME-INVALID");
    REQUIRE(invalid.size() == 1);
    CHECK_THAT(invalid[0], Catch::StartsWith("receive frame on pipe "));
    CHECK_THAT(invalid[0], Catch::Contains(expected));
    CHECK_THAT(invalid[0], Catch::EndsWith(": closing the pipe"));
    check_still_serving(f);
}

TEST_CASE("a malformed result mid-task fails only that task",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    log_capture log;
    fake_daemon::options opts;
    opts.pid = 3;
    opts.on_task = [](const frame&) {
        task_reply reply;
        reply.is_sent = false;
        return reply;
    };
    fake_daemon peer(f.url(), opts);
    f.wait_connections(1);
    uint64_t id = f.submit("x");
    REQUIRE(peer.wait_count(DSP_FRAME_TASK, 1, 5s));

    peer.send_frame(DSP_FRAME_RESULT, id + 100, 0, "wrong id");
    REQUIRE(f.sink.wait_count(1, 5s));
    CHECK(f.sink.find(id).status == DSP_ECONNRESET);
    CHECK(f.stats().daemons_lost == 1);
    CHECK(log.messages("DSP-FRAME-INVALID").size() == 1);
    check_still_serving(f);
}
