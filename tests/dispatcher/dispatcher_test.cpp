// Dispatching: order, spreading, results, lost daemons and the counters.
#include "dispatcher/dispatcher.h"

#include "tests/dispatcher/dispatcher_fixture.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace mirai::test;

TEST_CASE("strerror gives NNG's text for NNG's codes", "[dispatcher]")
{
    CHECK(std::string(dsp_strerror(DSP_ECONNRESET)) ==
        nng_strerror(NNG_ECONNRESET));
    CHECK(std::string(dsp_strerror(DSP_ETIMEDOUT)) ==
        nng_strerror(NNG_ETIMEDOUT));
    CHECK(std::string(dsp_strerror(DSP_ECANCELED)) ==
        nng_strerror(NNG_ECANCELED));
    CHECK(std::string(dsp_strerror(DSP_OK)) == "no error");
    CHECK(DSP_ECONNRESET == 19);
    CHECK(DSP_ECANCELED == 20);
    CHECK(DSP_ETIMEDOUT == 5);
}

TEST_CASE("dispatcher opens and closes without listening", "[dispatcher]")
{
    dsp_dispatcher* d = nullptr;
    REQUIRE(dsp_dispatcher_open(&d) == DSP_OK);
    dsp_stats s{};
    dsp_dispatcher_stats(d, &s);
    CHECK(s.connections == 0);
    CHECK(s.awaiting == 0);
    dsp_dispatcher_close(d);
}

TEST_CASE("submit rejects a message shorter than a header", "[dispatcher]")
{
    dispatcher_fixture f;
    nng_msg* msg = nullptr;
    REQUIRE(nng_msg_alloc(&msg, DSP_HEADER_SIZE - 1) == 0);
    uint64_t id = 0;

    CHECK(dsp_dispatcher_submit(f.get(), msg, result_sink::callback,
              &f.sink, &id) == DSP_EINVAL);
    CHECK(id == 0);
    CHECK(f.stats().awaiting == 0);
}

TEST_CASE("wait_connections times out without daemons", "[dispatcher]")
{
    dispatcher_fixture f;
    auto start = std::chrono::steady_clock::now();

    CHECK(dsp_dispatcher_wait_connections(f.get(), 1, 100) ==
        DSP_ETIMEDOUT);
    CHECK(std::chrono::steady_clock::now() - start >= 100ms);
    CHECK(dsp_dispatcher_wait_connections(f.get(), 0, 100) == DSP_OK);
}

TEST_CASE("one daemon runs tasks in submission order", "[dispatcher][net]")
{
    dispatcher_fixture f;
    std::vector<uint64_t> ids;
    for (int i = 0; i < 20; i++) {
        ids.push_back(f.submit("task " + std::to_string(i)));
    }
    CHECK(ids.front() == 1);
    CHECK(f.stats().awaiting == 20);

    fake_daemon daemon(f.url(), 42);
    REQUIRE(f.sink.wait_count(20, 5s));

    std::vector<uint64_t> sent;
    for (const frame& fr : daemon.received()) {
        sent.push_back(fr.id);
    }
    CHECK(sent == ids);
    auto done = f.sink.all();
    for (size_t i = 0; i < done.size(); i++) {
        CHECK(done[i].id == ids[i]);
        CHECK(done[i].payload == "task " + std::to_string(i));
    }
}

TEST_CASE("results carry the id, flags and payload", "[dispatcher][net]")
{
    dispatcher_fixture f;
    fake_daemon::options opts;
    opts.on_task = [](const frame& task) {
        task_reply reply;
        reply.flags = task.payload == "fail" ? DSP_RESULT_ERROR
                                             : DSP_RESULT_VALUE;
        reply.payload = "re:" + task.payload;
        return reply;
    };
    fake_daemon daemon(f.url(), opts);
    f.wait_connections(1);

    uint64_t ok = f.submit("fine");
    uint64_t bad = f.submit("fail");
    uint64_t empty = f.submit("");
    REQUIRE(f.sink.wait_count(3, 5s));

    completion c = f.sink.find(ok);
    CHECK(c.status == DSP_OK);
    CHECK(c.flags == DSP_RESULT_VALUE);
    CHECK(c.payload == "re:fine");
    CHECK(c.has_msg);
    c = f.sink.find(bad);
    CHECK(c.status == DSP_OK);
    CHECK(c.flags == DSP_RESULT_ERROR);
    CHECK(c.payload == "re:fail");
    c = f.sink.find(empty);
    CHECK(c.payload == "re:");
}

TEST_CASE("tasks spread over several daemons", "[dispatcher][net]")
{
    dispatcher_fixture f;
    std::vector<std::unique_ptr<fake_daemon>> daemons;
    for (uint64_t pid = 1; pid <= 4; pid++) {
        daemons.push_back(std::make_unique<fake_daemon>(f.url(), pid));
    }
    f.wait_connections(4);

    for (int i = 0; i < 40; i++) {
        f.submit("sleep:10");
    }
    REQUIRE(f.sink.wait_count(40, 10s));

    size_t total = 0;
    for (auto& daemon : daemons) {
        size_t n = daemon->count(DSP_FRAME_TASK);
        CHECK(n > 0);
        total += n;
    }
    CHECK(total == 40);
    for (const completion& c : f.sink.all()) {
        CHECK(c.status == DSP_OK);
    }
}

TEST_CASE("a daemon lost mid-task fails only its task", "[dispatcher][net]")
{
    dispatcher_fixture f;
    fake_daemon doomed(f.url(), 1);
    f.wait_connections(1);
    uint64_t lost = f.submit("sleep:60000");
    REQUIRE(doomed.wait_count(DSP_FRAME_TASK, 1, 5s));

    fake_daemon survivor(f.url(), 2);
    f.wait_connections(2);
    uint64_t a = f.submit("sleep:200");
    uint64_t b = f.submit("sleep:200");
    doomed.kill();

    REQUIRE(f.sink.wait_count(3, 5s));
    CHECK(f.sink.find(lost).status == DSP_ECONNRESET);
    CHECK(f.sink.find(lost).has_msg == false);
    CHECK(f.sink.find(a).status == DSP_OK);
    CHECK(f.sink.find(b).status == DSP_OK);
    CHECK(survivor.count(DSP_FRAME_TASK) == 2);

    dsp_stats s = f.stats();
    CHECK(s.connections == 1);
    CHECK(s.daemons_lost == 1);
    CHECK(s.failed == 1);
    CHECK(s.completed == 2);
}

TEST_CASE("queued tasks run once a daemon connects", "[dispatcher][net]")
{
    dispatcher_fixture f;
    fake_daemon first(f.url(), 1);
    f.wait_connections(1);
    f.submit("sleep:60000");
    REQUIRE(first.wait_count(DSP_FRAME_TASK, 1, 5s));
    uint64_t a = f.submit("a");
    uint64_t b = f.submit("b");
    CHECK(f.stats().awaiting == 2);
    CHECK(f.stats().executing == 1);

    fake_daemon late(f.url(), 2);
    REQUIRE(f.sink.wait_count(2, 5s));
    CHECK(f.sink.find(a).payload == "a");
    CHECK(f.sink.find(b).payload == "b");
    CHECK(late.count(DSP_FRAME_TASK) == 2);
}

TEST_CASE("a peer that has not said hello gets no task", "[dispatcher][net]")
{
    dispatcher_fixture f;
    fake_daemon::options opts;
    opts.sends_hello = false;
    fake_daemon silent(f.url(), opts);
    f.submit("x");

    std::this_thread::sleep_for(200ms);
    CHECK(silent.received().empty());
    CHECK(f.stats().awaiting == 1);
    CHECK(f.stats().connections == 0);
}

TEST_CASE("stats count every outcome exactly", "[dispatcher][net]")
{
    dispatcher_fixture f;
    fake_daemon keeper(f.url(), 7);
    f.wait_connections(1);
    for (int i = 0; i < 3; i++) {
        f.submit("ok");
    }
    REQUIRE(f.sink.wait_count(3, 5s));

    uint64_t cancelled = f.submit("sleep:60000");
    REQUIRE(keeper.wait_count(DSP_FRAME_TASK, 4, 5s));
    CHECK(dsp_dispatcher_cancel(f.get(), cancelled) == DSP_OK);
    REQUIRE(keeper.wait_count(DSP_FRAME_CANCEL, 1, 5s));

    fake_daemon doomed(f.url(), 8);
    f.wait_connections(2);
    f.submit("sleep:60000");
    f.submit("sleep:60000");
    REQUIRE(keeper.wait_count(DSP_FRAME_TASK, 5, 5s));
    REQUIRE(doomed.wait_count(DSP_FRAME_TASK, 1, 5s));
    uint64_t queued = f.submit("queued");

    dsp_stats s = f.stats();
    CHECK(s.connections == 2);
    CHECK(s.awaiting == 1);
    CHECK(s.executing == 2);
    CHECK(s.completed == 3);
    CHECK(s.cancelled == 1);
    CHECK(s.failed == 0);
    CHECK(s.daemons_seen == 2);
    CHECK(s.daemons_lost == 0);

    doomed.kill();
    REQUIRE(f.sink.wait_count(5, 5s));
    CHECK(dsp_dispatcher_cancel(f.get(), queued) == DSP_OK);
    s = f.stats();
    CHECK(s.connections == 1);
    CHECK(s.awaiting == 0);
    CHECK(s.executing == 1);
    CHECK(s.completed == 3);
    CHECK(s.cancelled == 2);
    CHECK(s.failed == 1);
    CHECK(s.daemons_seen == 2);
    CHECK(s.daemons_lost == 1);
}

TEST_CASE("daemons lists each connected daemon", "[dispatcher][net]")
{
    dispatcher_fixture f;
    fake_daemon one(f.url(), 101);
    f.wait_connections(1);
    fake_daemon two(f.url(), 202);
    f.wait_connections(2);
    uint64_t running = f.submit("sleep:60000");
    REQUIRE(one.wait_count(DSP_FRAME_TASK, 1, 5s));

    dsp_daemon_info info[4] = {};
    size_t count = 0;
    dsp_dispatcher_daemons(f.get(), info, 4, &count);
    REQUIRE(count == 2);
    CHECK(info[0].id == 1);
    CHECK(info[0].pid == 101);
    CHECK(info[0].task_id == running);
    CHECK(info[1].id == 2);
    CHECK(info[1].pid == 202);
    CHECK(info[1].task_id == 0);

    dsp_dispatcher_daemons(f.get(), info, 1, &count);
    CHECK(count == 2);
    dsp_dispatcher_daemons(f.get(), nullptr, 0, &count);
    CHECK(count == 2);
}

namespace {

struct chain {
    dsp_dispatcher* d;
    result_sink* sink;
    std::atomic<int> left{5};
};

void submit_next(void* arg, const dsp_result* result)
{
    auto* c = static_cast<chain*>(arg);
    result_sink::callback(c->sink, result);
    if (--c->left > 0) {
        nng_msg* msg = dispatcher_fixture::make_msg("next");
        dsp_dispatcher_submit(c->d, msg, submit_next, c, nullptr);
    }
}

} // namespace

TEST_CASE("a completion callback may submit a task", "[dispatcher][net]")
{
    dispatcher_fixture f;
    fake_daemon daemon(f.url(), 1);
    f.wait_connections(1);
    chain c{f.get(), &f.sink};

    REQUIRE(dsp_dispatcher_submit(f.get(), dispatcher_fixture::make_msg("x"),
                submit_next, &c, nullptr) == DSP_OK);
    REQUIRE(f.sink.wait_count(5, 5s));
    CHECK(f.stats().completed == 5);
}

TEST_CASE("tcp listen on port 0 reports the bound port",
    "[dispatcher][net]")
{
    dsp_dispatcher* d = nullptr;
    REQUIRE(dsp_dispatcher_open(&d) == DSP_OK);
    char url[128] = {};
    REQUIRE(dsp_dispatcher_listen(d, "tcp://127.0.0.1:0", url, sizeof(url)) ==
        DSP_OK);
    std::string bound(url);
    CHECK(bound.rfind("tcp://127.0.0.1:", 0) == 0);
    CHECK(bound != "tcp://127.0.0.1:0");
    {
        fake_daemon daemon(bound, 5);
        CHECK(dsp_dispatcher_wait_connections(d, 1, 5000) == DSP_OK);
    }
    char tiny[8];
    CHECK(dsp_dispatcher_listen(d, "tcp://127.0.0.1:0", tiny, sizeof(tiny)) ==
        DSP_EINVAL);
    dsp_dispatcher_close(d);
}

TEST_CASE("inproc daemons are served too", "[dispatcher]")
{
    dsp_dispatcher* d = nullptr;
    REQUIRE(dsp_dispatcher_open(&d) == DSP_OK);
    std::string url = inproc_address();
    REQUIRE(dsp_dispatcher_listen(d, url.c_str(), nullptr, 0) == DSP_OK);
    result_sink sink;
    {
        fake_daemon daemon(url, 9);
        uint64_t id = 0;
        REQUIRE(dsp_dispatcher_submit(d, dispatcher_fixture::make_msg("in"),
                    result_sink::callback, &sink, &id) == DSP_OK);
        REQUIRE(sink.wait_count(1, 5s));
        CHECK(sink.find(id).payload == "in");
    }
    dsp_dispatcher_close(d);
}
