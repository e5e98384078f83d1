// everywhere(): setup tasks reach every daemon, before its first task.
#include "dispatcher/dispatcher.h"

#include "tests/dispatcher/dispatcher_fixture.hpp"

#include <catch2/catch.hpp>

using namespace mirai::test;

namespace {

// The types of the frames a daemon received, in order.
std::vector<uint16_t> types(const fake_daemon& daemon)
{
    std::vector<uint16_t> out;
    for (const frame& f : daemon.received()) {
        out.push_back(f.type);
    }
    return out;
}

} // namespace

TEST_CASE("everywhere reaches connected and late daemons",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    fake_daemon one(f.url(), 1);
    fake_daemon two(f.url(), 2);
    f.wait_connections(2);

    uint64_t setup = f.everywhere("library(stats)");
    uint32_t done = 0;
    REQUIRE(dsp_dispatcher_wait_setup(f.get(), setup, 2, 5000, &done) ==
        DSP_OK);
    CHECK(done == 2);
    REQUIRE(one.count(DSP_FRAME_SETUP) == 1);
    CHECK(one.received()[0].payload == "library(stats)");
    CHECK(one.received()[0].id == setup);

    // Queue a task first, so it is waiting when the late daemon arrives.
    uint64_t busy = f.submit("sleep:60000");
    uint64_t busy2 = f.submit("sleep:60000");
    REQUIRE(one.wait_count(DSP_FRAME_TASK, 1, 5s));
    REQUIRE(two.wait_count(DSP_FRAME_TASK, 1, 5s));
    uint64_t task = f.submit("first task");

    fake_daemon late(f.url(), 3);
    REQUIRE(dsp_dispatcher_wait_setup(f.get(), setup, 3, 5000, &done) ==
        DSP_OK);
    CHECK(done == 3);
    REQUIRE(f.sink.wait_count(1, 5s));
    CHECK(f.sink.find(task).status == DSP_OK);
    CHECK(types(late) ==
        std::vector<uint16_t>{DSP_FRAME_SETUP, DSP_FRAME_TASK});
    CHECK(late.received()[1].id == task);
    (void) busy;
    (void) busy2;
}

TEST_CASE("setups keep their order and precede every task",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    std::vector<uint64_t> setups;
    for (int i = 0; i < 6; i++) {
        setups.push_back(f.everywhere("setup " + std::to_string(i)));
    }
    for (int i = 0; i < 3; i++) {
        f.submit("task " + std::to_string(i));
    }

    // Six setups and three tasks exceed the pipe's queue of two: the
    // window must hold them back rather than let NNG drop any.
    fake_daemon daemon(f.url(), 1);
    REQUIRE(f.sink.wait_count(3, 5s));
    for (uint64_t id : setups) {
        uint32_t done = 0;
        CHECK(dsp_dispatcher_wait_setup(f.get(), id, 1, 5000, &done) ==
            DSP_OK);
        CHECK(done == 1);
    }
    auto got = daemon.received();
    REQUIRE(got.size() == 9);
    for (size_t i = 0; i < 6; i++) {
        CHECK(got[i].type == DSP_FRAME_SETUP);
        CHECK(got[i].id == setups[i]);
        CHECK(got[i].payload == "setup " + std::to_string(i));
    }
    for (size_t i = 6; i < 9; i++) {
        CHECK(got[i].type == DSP_FRAME_TASK);
    }
}

TEST_CASE("everywhere during a task reaches the busy daemon",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    fake_daemon daemon(f.url(), 1);
    f.wait_connections(1);
    uint64_t task = f.submit("sleep:200");
    REQUIRE(daemon.wait_count(DSP_FRAME_TASK, 1, 5s));

    uint64_t setup = f.everywhere("late setup");
    uint32_t done = 0;
    REQUIRE(dsp_dispatcher_wait_setup(f.get(), setup, 1, 5000, &done) ==
        DSP_OK);
    CHECK(done == 1);
    REQUIRE(f.sink.wait_count(1, 5s));
    CHECK(f.sink.find(task).status == DSP_OK);
}

TEST_CASE("wait_setup reports unknown ids and timeouts", "[dispatcher]")
{
    dispatcher_fixture f;
    uint32_t done = 99;
    CHECK(dsp_dispatcher_wait_setup(f.get(), 7, 1, 10, &done) == DSP_ENOENT);

    uint64_t setup = f.everywhere("x");
    auto start = std::chrono::steady_clock::now();
    CHECK(dsp_dispatcher_wait_setup(f.get(), setup, 1, 100, &done) ==
        DSP_ETIMEDOUT);
    CHECK(done == 0);
    CHECK(std::chrono::steady_clock::now() - start >= 100ms);
    CHECK(dsp_dispatcher_wait_setup(f.get(), setup, 0, 0, &done) == DSP_OK);

    // A task id is not a setup id.
    uint64_t task = f.submit("t");
    CHECK(dsp_dispatcher_wait_setup(f.get(), task, 1, 10, &done) ==
        DSP_ENOENT);
}

TEST_CASE("setup acknowledgements count distinct daemons",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    log_capture log;
    fake_daemon daemon(f.url(), 1);
    f.wait_connections(1);
    uint64_t setup = f.everywhere("once");
    uint32_t done = 0;
    REQUIRE(dsp_dispatcher_wait_setup(f.get(), setup, 1, 5000, &done) ==
        DSP_OK);

    // A second acknowledgement from the same daemon is a protocol error.
    daemon.send_frame(DSP_FRAME_SETUP, setup, 0, "again");
    REQUIRE(daemon.wait_disconnected(5s));
    CHECK(dsp_dispatcher_wait_setup(f.get(), setup, 2, 100, &done) ==
        DSP_ETIMEDOUT);
    CHECK(done == 1);
    auto invalid = log.messages("DSP-FRAME-INVALID");
    REQUIRE(invalid.size() == 1);
    CHECK_THAT(invalid[0], Catch::Contains("out of order"));
}
