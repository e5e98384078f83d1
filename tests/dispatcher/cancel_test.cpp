// Cancellation of queued, running and resolved tasks.
#include "dispatcher/dispatcher.h"

#include "tests/dispatcher/dispatcher_fixture.hpp"

#include <catch2/catch.hpp>

using namespace mirai::test;

TEST_CASE("cancel removes a queued task", "[dispatcher]")
{
    dispatcher_fixture f;
    uint64_t first = f.submit("a");
    uint64_t second = f.submit("b");

    REQUIRE(dsp_dispatcher_cancel(f.get(), first) == DSP_OK);
    // The callback has run before cancel returned.
    REQUIRE(f.sink.size() == 1);
    completion c = f.sink.find(first);
    CHECK(c.status == DSP_ECANCELED);
    CHECK_FALSE(c.has_msg);

    dsp_stats s = f.stats();
    CHECK(s.awaiting == 1);
    CHECK(s.cancelled == 1);

    fake_daemon daemon(f.url(), 1);
    REQUIRE(f.sink.wait_count(2, 5s));
    CHECK(f.sink.find(second).status == DSP_OK);
    REQUIRE(daemon.count(DSP_FRAME_TASK) == 1);
    CHECK(daemon.received()[0].id == second);
}

TEST_CASE("cancel of an unknown or resolved task is ENOENT", "[dispatcher]")
{
    dispatcher_fixture f;
    CHECK(dsp_dispatcher_cancel(f.get(), 0) == DSP_ENOENT);
    CHECK(dsp_dispatcher_cancel(f.get(), 12345) == DSP_ENOENT);

    uint64_t id = f.submit("a");
    REQUIRE(dsp_dispatcher_cancel(f.get(), id) == DSP_OK);
    CHECK(dsp_dispatcher_cancel(f.get(), id) == DSP_ENOENT);

    fake_daemon daemon(f.url(), 1);
    uint64_t done = f.submit("b");
    REQUIRE(f.sink.wait_count(2, 5s));
    CHECK(dsp_dispatcher_cancel(f.get(), done) == DSP_ENOENT);
    CHECK(f.sink.counts()[id] == 1);
    CHECK(f.stats().cancelled == 1);
}

TEST_CASE("cancel interrupts a running task", "[dispatcher][net]")
{
    dispatcher_fixture f;
    fake_daemon daemon(f.url(), 1);
    f.wait_connections(1);
    uint64_t id = f.submit("sleep:60000");
    REQUIRE(daemon.wait_count(DSP_FRAME_TASK, 1, 5s));

    REQUIRE(dsp_dispatcher_cancel(f.get(), id) == DSP_OK);
    REQUIRE(f.sink.size() == 1);
    CHECK(f.sink.find(id).status == DSP_ECANCELED);
    REQUIRE(daemon.wait_count(DSP_FRAME_CANCEL, 1, 5s));
    CHECK(daemon.received()[1].id == id);

    // The daemon answers with an interrupt, which must be discarded, and
    // then takes the next task.
    uint64_t next = f.submit("after");
    REQUIRE(f.sink.wait_count(2, 5s));
    CHECK(f.sink.find(next).payload == "after");
    CHECK(f.sink.counts()[id] == 1);
    CHECK(daemon.count(DSP_FRAME_TASK) == 2);

    dsp_stats s = f.stats();
    CHECK(s.cancelled == 1);
    CHECK(s.completed == 1);
    CHECK(s.executing == 0);
}

TEST_CASE("a late result after cancel is discarded", "[dispatcher][net]")
{
    dispatcher_fixture f;
    fake_daemon::options opts;
    opts.ignores_cancel = true;
    fake_daemon daemon(f.url(), opts);
    f.wait_connections(1);
    uint64_t id = f.submit("sleep:300");
    REQUIRE(daemon.wait_count(DSP_FRAME_TASK, 1, 5s));

    REQUIRE(dsp_dispatcher_cancel(f.get(), id) == DSP_OK);
    uint64_t next = f.submit("next");

    // The daemon stays busy until its late result, then runs "next".
    std::this_thread::sleep_for(100ms);
    CHECK(daemon.count(DSP_FRAME_TASK) == 1);
    dsp_daemon_info info{};
    size_t count = 0;
    dsp_dispatcher_daemons(f.get(), &info, 1, &count);
    CHECK(info.task_id == 0);

    REQUIRE(f.sink.wait_count(2, 5s));
    CHECK(f.sink.find(next).status == DSP_OK);
    auto counts = f.sink.counts();
    CHECK(counts[id] == 1);
    CHECK(f.sink.find(id).status == DSP_ECANCELED);
    CHECK(f.stats().completed == 1);
    CHECK(info.completed == 0);
}

TEST_CASE("cancel from another thread races results safely",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    std::vector<std::unique_ptr<fake_daemon>> daemons;
    for (uint64_t pid = 1; pid <= 3; pid++) {
        daemons.push_back(std::make_unique<fake_daemon>(f.url(), pid));
    }
    f.wait_connections(3);

    const int n = 600;
    std::vector<uint64_t> ids;
    for (int i = 0; i < n; i++) {
        ids.push_back(f.submit(i % 3 == 0 ? "sleep:1" : "x"));
    }
    int cancelled = 0;
    for (size_t i = 0; i < ids.size(); i += 2) {
        cancelled += dsp_dispatcher_cancel(f.get(), ids[i]) == DSP_OK;
    }
    REQUIRE(f.sink.wait_count(n, 20s));

    auto counts = f.sink.counts();
    CHECK(counts.size() == static_cast<size_t>(n));
    for (uint64_t id : ids) {
        CHECK(counts[id] == 1);
    }
    dsp_stats s = f.stats();
    CHECK(s.cancelled == static_cast<uint64_t>(cancelled));
    CHECK(s.completed + s.cancelled == static_cast<uint64_t>(n));
    CHECK(s.failed == 0);
}
