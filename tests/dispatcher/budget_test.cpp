// The queue budget: queued payload bytes are counted exactly, a submitter
// that would exceed the budget waits (or gets DSP_EAGAIN), and close
// wakes a waiting submitter.
#include "dispatcher/dispatcher.h"

#include "tests/dispatcher/dispatcher_fixture.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <thread>

using namespace mirai::test;

namespace {

// Submit within the budget; on any status but DSP_OK the message is
// still the caller's and is freed here.
int submit_wait(dispatcher_fixture& f, const std::string& payload,
    int timeout_ms, uint64_t* id = nullptr)
{
    nng_msg* msg = dispatcher_fixture::make_msg(payload);
    int rv = dsp_dispatcher_submit_wait(f.get(), msg, result_sink::callback,
        &f.sink, nullptr, id, timeout_ms);
    if (rv != DSP_OK) {
        nng_msg_free(msg);
    }
    return rv;
}

} // namespace

TEST_CASE("queued bytes count payloads until a daemon takes them",
    "[dispatcher]")
{
    dispatcher_fixture f;
    f.submit(std::string(100, 'a'));
    f.submit(std::string(250, 'b'));
    dsp_stats s = f.stats();
    CHECK(s.awaiting == 2);
    CHECK(s.awaiting_bytes == 350);
    CHECK(s.awaiting_bytes_peak == 350);

    uint64_t third = f.submit(std::string(50, 'c'));
    REQUIRE(dsp_dispatcher_cancel(f.get(), third) == DSP_OK);
    s = f.stats();
    CHECK(s.awaiting_bytes == 350);
    CHECK(s.awaiting_bytes_peak == 400);

    fake_daemon daemon(f.url(), 1);
    REQUIRE(f.sink.wait_count(3, 5s));
    s = f.stats();
    CHECK(s.awaiting == 0);
    CHECK(s.awaiting_bytes == 0);
    CHECK(s.awaiting_bytes_peak == 400);
}

TEST_CASE("submit within budget returns EAGAIN when the queue is full",
    "[dispatcher]")
{
    dispatcher_fixture f;
    dsp_dispatcher_set_queue_budget(f.get(), 1000);

    // An empty queue takes even a payload larger than the budget.
    CHECK(submit_wait(f, std::string(1500, 'x'), 0) == DSP_OK);
    CHECK(submit_wait(f, "y", 0) == DSP_EAGAIN);
    CHECK(submit_wait(f, "y", 50) == DSP_ETIMEDOUT);
    // The budget does not bind plain submit.
    f.submit("z");
    dsp_stats s = f.stats();
    CHECK(s.awaiting == 2);
    CHECK(s.awaiting_bytes == 1501);

    fake_daemon daemon(f.url(), 1);
    REQUIRE(f.sink.wait_count(2, 5s));
    CHECK(submit_wait(f, std::string(600, 'p'), 0) == DSP_OK);
    REQUIRE(f.sink.wait_count(3, 5s));
    CHECK(f.stats().awaiting_bytes == 0);
}

TEST_CASE("queue budget admits up to its exact size", "[dispatcher]")
{
    dispatcher_fixture f;
    dsp_dispatcher_set_queue_budget(f.get(), 1000);
    CHECK(submit_wait(f, std::string(600, 'a'), 0) == DSP_OK);
    CHECK(submit_wait(f, std::string(401, 'b'), 0) == DSP_EAGAIN);
    CHECK(submit_wait(f, std::string(400, 'c'), 0) == DSP_OK);
    CHECK(submit_wait(f, "d", 0) == DSP_EAGAIN);
    CHECK(f.stats().awaiting_bytes == 1000);

    // Raising the budget makes room; 0 removes it.
    dsp_dispatcher_set_queue_budget(f.get(), 1001);
    CHECK(submit_wait(f, "e", 0) == DSP_OK);
    dsp_dispatcher_set_queue_budget(f.get(), 0);
    CHECK(submit_wait(f, std::string(5000, 'f'), 0) == DSP_OK);
    CHECK(f.stats().awaiting_bytes == 6001);
}

TEST_CASE("blocked submitter proceeds once a daemon takes a task",
    "[dispatcher][net]")
{
    dispatcher_fixture f;
    dsp_dispatcher_set_queue_budget(f.get(), 100);
    fake_daemon daemon(f.url(), 1);
    f.wait_connections(1);

    // The daemon runs the first task; the second fills the queue.
    uint64_t running = f.submit("sleep:400");
    REQUIRE(daemon.wait_count(DSP_FRAME_TASK, 1, 5s));
    REQUIRE(submit_wait(f, std::string(80, 'q'), 0) == DSP_OK);

    uint64_t blocked_id = 0;
    auto blocked = std::async(std::launch::async,
        [&] { return submit_wait(f, std::string(80, 'r'), -1, &blocked_id); });
    CHECK(blocked.wait_for(150ms) == std::future_status::timeout);
    CHECK(f.stats().awaiting == 1);
    CHECK(f.sink.find(running).status == -1);

    // Once the sleep ends the daemon takes the queued task, making room.
    REQUIRE(blocked.wait_for(5s) == std::future_status::ready);
    CHECK(blocked.get() == DSP_OK);
    // The result's callback runs after the dispatcher lets the submitter
    // in, so wait for it rather than read it at once.
    REQUIRE(f.sink.wait_count(3, 5s));
    CHECK(f.sink.find(running).status == DSP_OK);
    CHECK(f.sink.find(blocked_id).payload == std::string(80, 'r'));
    // The second 80 bytes were queued only after the first left.
    CHECK(f.stats().awaiting_bytes_peak == 80);
}

TEST_CASE("close wakes a blocked submitter with ECLOSED", "[dispatcher]")
{
    dispatcher_fixture f;
    dsp_dispatcher_set_queue_budget(f.get(), 10);
    f.submit("0123456789");

    nng_msg* msg = dispatcher_fixture::make_msg("waiting");
    auto blocked = std::async(std::launch::async, [&] {
        return dsp_dispatcher_submit_wait(f.get(), msg,
            result_sink::callback, &f.sink, nullptr, nullptr, -1);
    });
    CHECK(blocked.wait_for(100ms) == std::future_status::timeout);

    f.close();
    REQUIRE(blocked.wait_for(5s) == std::future_status::ready);
    CHECK(blocked.get() == DSP_ECLOSED);
    // The caller still owns the message it could not queue.
    CHECK(nng_msg_len(msg) == DSP_HEADER_SIZE + 7);
    nng_msg_free(msg);
    REQUIRE(f.sink.size() == 1);
    CHECK(f.sink.all()[0].status == DSP_ECONNRESET);
}

TEST_CASE("submit within budget rejects invalid arguments", "[dispatcher]")
{
    dispatcher_fixture f;
    nng_msg* short_msg = nullptr;
    REQUIRE(nng_msg_alloc(&short_msg, 4) == 0);
    CHECK(dsp_dispatcher_submit_wait(f.get(), short_msg,
              result_sink::callback, &f.sink, nullptr, nullptr, 0) == DSP_EINVAL);
    nng_msg_free(short_msg);
    nng_msg* msg = dispatcher_fixture::make_msg("a");
    CHECK(dsp_dispatcher_submit_wait(f.get(), msg, nullptr, nullptr,
              nullptr, nullptr, 0) == DSP_EINVAL);
    nng_msg_free(msg);
    CHECK(dsp_dispatcher_submit_wait(f.get(), nullptr,
              result_sink::callback, &f.sink, nullptr, nullptr, 0) == DSP_EINVAL);
}
