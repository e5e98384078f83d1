// Batches. Queued tasks go to a daemon that offered batches in one frame,
// no more than its share of the queue. A daemon that runs out of work
// gets the tasks another daemon has not started. Cancels and losses
// resolve every task of a batch once.
#include "dispatcher/dispatcher.h"

#include "tests/dispatcher/dispatcher_fixture.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>

using namespace mirai::test;

namespace {

fake_daemon::options batching(uint64_t pid, uint32_t max_batch = 128)
{
    fake_daemon::options opts;
    opts.pid = pid;
    opts.max_batch = max_batch;
    return opts;
}

// A budget so long that batch sizes depend on the queue alone.
void use_long_budget(dispatcher_fixture& f)
{
    dsp_dispatcher_set_batch_budget(f.get(), 60U * 1000U * 1000U);
}

// Run one task, so that the dispatcher has a time per task.
void warm_up(dispatcher_fixture& f)
{
    size_t before = f.sink.size();
    f.submit("warm");
    REQUIRE(f.sink.wait_count(before + 1, 5s));
}

std::vector<uint32_t> batch_sizes(const fake_daemon& daemon)
{
    std::vector<uint32_t> sizes;
    for (const frame& fr : daemon.received()) {
        if (fr.type == DSP_FRAME_BATCH) {
            sizes.push_back(fr.flags);
        }
    }
    return sizes;
}

} // namespace

TEST_CASE("queued tasks reach a batching daemon in one frame",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    use_long_budget(f);
    fake_daemon daemon(f.url(), batching(7));
    f.wait_connections(1);
    warm_up(f);

    uint64_t busy = f.submit("sleep:200");
    REQUIRE(daemon.wait_count(DSP_FRAME_TASK, 2, 5s));
    std::vector<uint64_t> ids;
    for (int i = 0; i < 10; i++) {
        ids.push_back(f.submit("t" + std::to_string(i)));
    }
    REQUIRE(f.sink.wait_count(12, 5s));
    CHECK(f.sink.find(busy).payload == "sleep:200");
    for (int i = 0; i < 10; i++) {
        CHECK(f.sink.find(ids[i]).status == DSP_OK);
        CHECK(f.sink.find(ids[i]).payload == "t" + std::to_string(i));
    }
    CHECK(batch_sizes(daemon) == std::vector<uint32_t>{10});
    CHECK(f.stats().completed == 12);
}

TEST_CASE("a daemon without batches gets one task per frame",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    use_long_budget(f);
    fake_daemon daemon(f.url(), 8);
    f.wait_connections(1);
    warm_up(f);

    f.submit("sleep:100");
    REQUIRE(daemon.wait_count(DSP_FRAME_TASK, 2, 5s));
    for (int i = 0; i < 5; i++) {
        f.submit("t");
    }
    REQUIRE(f.sink.wait_count(7, 5s));
    CHECK(batch_sizes(daemon).empty());
    CHECK(daemon.count(DSP_FRAME_TASK) == 7);
}

TEST_CASE("a batch is at most the daemon's share of the queue",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    use_long_budget(f);
    fake_daemon one(f.url(), batching(1));
    fake_daemon two(f.url(), batching(2));
    f.wait_connections(2);
    warm_up(f);

    bool is_batching = true;
    SECTION("with a batch budget") {}
    SECTION("with a zero budget, one task per frame")
    {
        dsp_dispatcher_set_batch_budget(f.get(), 0);
        is_batching = false;
    }
    f.submit("sleep:200");
    f.submit("sleep:200");
    REQUIRE(f.sink.size() == 1);
    for (int i = 0; i < 10; i++) {
        f.submit("t");
    }
    REQUIRE(f.sink.wait_count(13, 5s));
    std::vector<uint32_t> sizes = batch_sizes(one);
    std::vector<uint32_t> more = batch_sizes(two);
    sizes.insert(sizes.end(), more.begin(), more.end());
    std::sort(sizes.begin(), sizes.end());
    if (is_batching) {
        // The first daemon back takes its share, 5 of 10; the other then
        // takes its share of what is left.
        REQUIRE_FALSE(sizes.empty());
        CHECK(sizes.back() == 5);
        CHECK(one.count(DSP_FRAME_TASK) + two.count(DSP_FRAME_TASK) == 13);
    } else {
        CHECK(sizes.empty());
        CHECK(one.count(DSP_FRAME_TASK) + two.count(DSP_FRAME_TASK) == 13);
    }
}

TEST_CASE("an idle daemon gets the tasks another has not started",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    use_long_budget(f);
    log_capture log;
    fake_daemon slow(f.url(), batching(1));
    f.wait_connections(1);
    warm_up(f);

    f.submit("sleep:50");
    REQUIRE(slow.wait_count(DSP_FRAME_TASK, 2, 5s));
    uint64_t stuck = f.submit("sleep:1500");
    std::vector<uint64_t> ids;
    for (int i = 0; i < 6; i++) {
        ids.push_back(f.submit("t" + std::to_string(i)));
    }
    REQUIRE(slow.wait_count(DSP_FRAME_BATCH, 1, 5s));
    CHECK(batch_sizes(slow) == std::vector<uint32_t>{7});

    fake_daemon idle(f.url(), batching(2));
    REQUIRE(f.sink.wait_count(8, 1000ms));
    for (int i = 0; i < 6; i++) {
        CHECK(f.sink.find(ids[i]).status == DSP_OK);
        CHECK(f.sink.find(ids[i]).payload == "t" + std::to_string(i));
    }
    CHECK(slow.count(DSP_FRAME_RECALL) == 1);
    CHECK(f.stats().returned == 6);
    CHECK(idle.count(DSP_FRAME_TASK) == 6);
    CHECK(f.sink.find(stuck).status == -1);

    REQUIRE(f.sink.wait_count(9, 5s));
    CHECK(f.sink.find(stuck).payload == "sleep:1500");
    std::map<uint64_t, int> counts = f.sink.counts();
    for (const auto& entry : counts) {
        CHECK(entry.second == 1);
    }
    CHECK(log.messages("DSP-FRAME-INVALID").empty());
}

TEST_CASE("cancelling tasks of a batch resolves each once",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    use_long_budget(f);
    fake_daemon daemon(f.url(), batching(3));
    f.wait_connections(1);
    warm_up(f);

    f.submit("sleep:100");
    REQUIRE(daemon.wait_count(DSP_FRAME_TASK, 2, 5s));
    std::vector<uint64_t> ids;
    for (int i = 0; i < 8; i++) {
        ids.push_back(f.submit(i == 0 ? "sleep:300" : "t"));
    }
    REQUIRE(daemon.wait_count(DSP_FRAME_BATCH, 1, 5s));
    // The running task last: once it stops, the daemon runs the rest at
    // once, and a task whose result has come back cannot be cancelled.
    for (int i = 6; i >= 0; i -= 2) {
        REQUIRE(dsp_dispatcher_cancel(f.get(), ids[i]) == DSP_OK);
    }
    REQUIRE(f.sink.wait_count(10, 5s));
    for (int i = 0; i < 8; i++) {
        CHECK(f.sink.find(ids[i]).status ==
            (i % 2 == 0 ? DSP_ECANCELED : DSP_OK));
    }
    // Cancels for tasks whose result came first are dropped.
    CHECK(daemon.count(DSP_FRAME_CANCEL) >= 1);
    CHECK(daemon.count(DSP_FRAME_CANCEL) <= 4);

    // The daemon is free again once every result of the batch is in.
    uint64_t next = f.submit("next");
    REQUIRE(f.sink.wait_count(11, 5s));
    CHECK(f.sink.find(next).payload == "next");
    CHECK(f.stats().cancelled == 4);
}

TEST_CASE("losing a daemon resolves or requeues every task of its batch",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    use_long_budget(f);
    fake_daemon::options hangs = batching(4);
    hangs.on_task = [](const frame& task) {
        task_reply reply = fake_daemon::echo(task);
        reply.is_sent = task.payload.compare(0, 4, "hang") != 0;
        return reply;
    };
    auto lost = std::make_unique<fake_daemon>(f.url(), hangs);
    f.wait_connections(1);
    warm_up(f);

    f.submit("sleep:100");
    REQUIRE(lost->wait_count(DSP_FRAME_TASK, 2, 5s));
    uint32_t retries = 0;
    SECTION("without retries") {}
    SECTION("with a retry each") { retries = 1; }
    dsp_task_options opts{};
    opts.retries = retries;
    std::vector<uint64_t> ids(4);
    for (int i = 0; i < 4; i++) {
        REQUIRE(dsp_dispatcher_submit_opts(f.get(),
                    f.make_msg("hang" + std::to_string(i)),
                    result_sink::callback, &f.sink, &opts,
                    &ids[i]) == DSP_OK);
    }
    REQUIRE(lost->wait_count(DSP_FRAME_BATCH, 1, 5s));
    CHECK(batch_sizes(*lost) == std::vector<uint32_t>{4});
    lost->kill();

    // The first task was running: it is lost, or retried. The three
    // behind it had not started: they are queued again, each to be sent
    // alone, and use no retry.
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (f.stats().awaiting != (retries == 0 ? 3u : 4u) &&
        std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(5ms);
    }
    CHECK(f.stats().awaiting == (retries == 0 ? 3u : 4u));
    if (retries == 0) {
        REQUIRE(f.sink.wait_count(3, 5s));
        CHECK(f.sink.find(ids[0]).status == DSP_ECONNRESET);
    }
    fake_daemon next(f.url(), batching(5));
    REQUIRE(f.sink.wait_count(6, 5s));
    std::vector<uint64_t> order;
    for (const frame& fr : next.received()) {
        if (fr.type == DSP_FRAME_TASK) {
            order.push_back(fr.id);
        }
    }
    size_t first = retries == 0 ? 1 : 0;
    for (size_t i = first; i < 4; i++) {
        CHECK(f.sink.find(ids[i]).status == DSP_OK);
        CHECK(f.sink.find(ids[i]).payload == "hang" + std::to_string(i));
    }
    CHECK(order == std::vector<uint64_t>(ids.begin() + first, ids.end()));
    // Suspects travel alone; a retried task may share a frame.
    CHECK(batch_sizes(next).empty());
    CHECK(f.stats().executing == 0);
    CHECK(f.stats().awaiting == 0);
}
