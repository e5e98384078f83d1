// Task deadlines and retries after a lost daemon.
#include "dispatcher/dispatcher.h"

#include "tests/dispatcher/dispatcher_fixture.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using namespace mirai::test;

namespace {

uint64_t submit_with(dispatcher_fixture& f, const std::string& payload,
    int64_t timeout_ms, uint32_t retries)
{
    dsp_task_options opts{};
    opts.timeout_ms = timeout_ms;
    opts.retries = retries;
    uint64_t id = 0;
    REQUIRE(dsp_dispatcher_submit_opts(f.get(),
                dispatcher_fixture::make_msg(payload), result_sink::callback,
                &f.sink, &opts, &id) == DSP_OK);
    return id;
}

double seconds_since(std::chrono::steady_clock::time_point start)
{
    std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
    return d.count();
}

} // namespace

TEST_CASE("queued task times out without a daemon", "[dispatcher]")
{
    dispatcher_fixture f;
    auto start = std::chrono::steady_clock::now();
    uint64_t id = submit_with(f, "a", 100, 0);
    uint64_t other = f.submit("b");

    REQUIRE(f.sink.wait_count(1, 5s));
    CHECK(seconds_since(start) >= 0.09);
    completion c = f.sink.find(id);
    CHECK(c.status == DSP_ETIMEDOUT);
    CHECK_FALSE(c.has_msg);
    dsp_stats s = f.stats();
    CHECK(s.awaiting == 1);
    CHECK(s.failed == 1);
    CHECK(s.cancelled == 0);

    // The task without a deadline still runs once a daemon comes.
    fake_daemon daemon(f.url(), 1);
    REQUIRE(f.sink.wait_count(2, 5s));
    CHECK(f.sink.find(other).status == DSP_OK);
    REQUIRE(daemon.count(DSP_FRAME_TASK) == 1);
    CHECK(daemon.received()[0].id == other);
}

TEST_CASE("running task times out and is stopped", "[dispatcher][net]")
{
    dispatcher_fixture f;
    fake_daemon daemon(f.url(), 1);
    f.wait_connections(1);
    uint64_t slow = submit_with(f, "sleep:60000", 200, 0);
    uint64_t next = f.submit("next");

    REQUIRE(f.sink.wait_count(2, 5s));
    CHECK(f.sink.find(slow).status == DSP_ETIMEDOUT);
    CHECK(f.sink.find(next).status == DSP_OK);
    CHECK(f.sink.find(next).payload == "next");
    REQUIRE(daemon.count(DSP_FRAME_CANCEL) == 1);
    CHECK(daemon.count(DSP_FRAME_TASK) == 2);
    dsp_stats s = f.stats();
    CHECK(s.failed == 1);
    CHECK(s.completed == 1);
    CHECK(s.executing == 0);
}

TEST_CASE("deadlines fire in order whatever the submission order",
    "[dispatcher]")
{
    dispatcher_fixture f;
    uint64_t late = submit_with(f, "late", 400, 0);
    uint64_t early = submit_with(f, "early", 50, 0);
    uint64_t middle = submit_with(f, "middle", 200, 0);
    uint64_t done = submit_with(f, "done", 60000, 0);

    REQUIRE(f.sink.wait_count(3, 5s));
    std::vector<completion> all = f.sink.all();
    REQUIRE(all.size() == 3);
    CHECK(all[0].id == early);
    CHECK(all[1].id == middle);
    CHECK(all[2].id == late);
    // Cancelling a task that has a deadline resolves it once, at once.
    REQUIRE(dsp_dispatcher_cancel(f.get(), done) == DSP_OK);
    CHECK(f.sink.find(done).status == DSP_ECANCELED);
    CHECK(f.sink.counts().size() == 4);
}

TEST_CASE("submit rejects a negative timeout", "[dispatcher]")
{
    dispatcher_fixture f;
    dsp_task_options opts{};
    opts.timeout_ms = -1;
    uint64_t id = 0;
    CHECK(dsp_dispatcher_submit_opts(f.get(), dispatcher_fixture::make_msg(
                                                  "x"),
              result_sink::callback, &f.sink, &opts, &id) == DSP_EINVAL);
    opts.timeout_ms = int64_t(1) << 40;
    CHECK(dsp_dispatcher_submit_opts(f.get(), dispatcher_fixture::make_msg(
                                                  "x"),
              result_sink::callback, &f.sink, &opts, &id) == DSP_EINVAL);
    CHECK(f.stats().awaiting == 0);
}

TEST_CASE("task with retries runs again after its daemon is lost",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    auto doomed = std::make_unique<fake_daemon>(f.url(), 1);
    f.wait_connections(1);
    uint64_t id = submit_with(f, "sleep:60000", 0, 1);
    REQUIRE(doomed->wait_count(DSP_FRAME_TASK, 1, 5s));
    doomed->kill();

    // Back in the queue, not failed.
    auto start = std::chrono::steady_clock::now();
    while (f.stats().awaiting != 1 && seconds_since(start) < 5) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    dsp_stats s = f.stats();
    CHECK(s.awaiting == 1);
    CHECK(s.executing == 0);
    CHECK(s.failed == 0);
    CHECK(f.sink.all().empty());

    // The second daemon gets the same frame. Losing it too uses up the
    // only retry, so the task resolves with ECONNRESET.
    auto second = std::make_unique<fake_daemon>(f.url(), 2);
    REQUIRE(second->wait_count(DSP_FRAME_TASK, 1, 5s));
    CHECK(second->received()[0].id == id);
    CHECK(second->received()[0].payload == "sleep:60000");
    second->kill();
    REQUIRE(f.sink.wait_count(1, 5s));
    CHECK(f.sink.find(id).status == DSP_ECONNRESET);
    CHECK(f.stats().failed == 1);
    CHECK(f.stats().awaiting == 0);
}

TEST_CASE("retried task runs first on the next daemon", "[dispatcher][net]")
{
    dispatcher_fixture f;
    auto doomed = std::make_unique<fake_daemon>(f.url(), 1);
    f.wait_connections(1);
    uint64_t id = submit_with(f, "sleep:60000", 0, 3);
    uint64_t behind = f.submit("behind");
    REQUIRE(doomed->wait_count(DSP_FRAME_TASK, 1, 5s));
    doomed->kill();

    fake_daemon steady(f.url(), 2);
    REQUIRE(steady.wait_count(DSP_FRAME_TASK, 1, 5s));
    // The retried task goes first, ahead of the task queued behind it.
    CHECK(steady.received()[0].id == id);
    REQUIRE(dsp_dispatcher_cancel(f.get(), id) == DSP_OK);
    REQUIRE(f.sink.wait_count(2, 5s));
    CHECK(f.sink.find(id).status == DSP_ECANCELED);
    CHECK(f.sink.find(behind).status == DSP_OK);
    dsp_stats s = f.stats();
    CHECK(s.cancelled == 1);
    CHECK(s.completed == 1);
    CHECK(s.failed == 0);
}
