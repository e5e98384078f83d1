// The queue budget of daemons(n, options.memory_mb) through the host API:
// try_mirai() returns no task while the budget is full, mirai() blocks
// until a daemon takes a queued task, and status() reports the queued
// payload bytes exactly.
#include "host/mirai.hpp"

#include "dispatcher/wire.h"
#include "host/detail/r_code.hpp"
#include "sync/evaluator.hpp"
#include "sync/serialize.hpp"
#include "tests/host/host_fixture.hpp"

#include <atomic>
#include <functional>
#include <future>
#include <thread>

namespace mh = mirai::host;
using mirai::test::daemons_guard;
using mirai::test::host_session;

namespace {

// The payload bytes that mirai(expression, values) queues, computed the
// way the host serializes a task.
std::uint64_t task_bytes(const std::string& expression,
                         const mh::data& values)
{
    Rcpp::RObject task = mirai::sync::make_task(
        mh::detail::parse_code(expression), mh::to_list(values));
    return mirai::sync::serialized_size(task, DSP_RECEIVED_PAYLOAD_OFFSET);
}

// Start one daemon with a budget of budget_mb and keep it busy for
// busy_ms; returns the busy task once the daemon runs it.
mh::handle occupy_daemon(std::size_t budget_mb, int busy_ms)
{
    mh::daemons_options options;
    options.memory_mb = budget_mb;
    REQUIRE(mh::daemons(1, options) == 1);
    mh::handle busy = mh::mirai("Sys.sleep(" + std::to_string(busy_ms) +
                                " / 1000); 'slept'");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (mh::status().executing == 0 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    REQUIRE(mh::status().executing == 1);
    return busy;
}

// 600,000 doubles: about 4.6 MiB serialized.
const std::vector<double> big(600000, 0.5);

} // namespace

TEST_CASE("try_mirai returns no task while the budget is full",
          "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::handle busy = occupy_daemon(8, 1500);

    mh::handle first = mh::mirai("length(x)", {{"x", big}});
    std::uint64_t bytes = task_bytes("length(x)", {{"x", big}});
    CHECK(mh::status().awaiting_bytes == bytes);

    std::optional<mh::handle> refused =
        mh::try_mirai("sum(x)", {{"x", big}});
    CHECK_FALSE(refused.has_value());
    mh::status_info s = mh::status();
    CHECK(s.awaiting == 1);
    CHECK(s.awaiting_bytes == bytes);

    // A small task still fits next to the queued one.
    std::optional<mh::handle> small = mh::try_mirai("1 + 1");
    REQUIRE(small.has_value());

    CHECK(busy.get<std::string>() == "slept");
    CHECK(first.get<double>() == 600000);
    CHECK(small->get<double>() == 2);
    std::optional<mh::handle> later = mh::try_mirai("sum(x)", {{"x", big}});
    REQUIRE(later.has_value());
    CHECK(later->get<double>() == 300000);
    CHECK(mh::status().awaiting_bytes == 0);
}

TEST_CASE("mirai blocks until a daemon takes a queued task",
          "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    // The daemon stays busy well past the watcher's sample, even on a
    // loaded machine.
    mh::handle busy = occupy_daemon(8, 3000);
    mh::handle first = mh::mirai("length(x)", {{"x", big}});

    // A watcher samples the state while the R thread is blocked below.
    std::atomic<bool> returned{false};
    auto watcher = std::async(std::launch::async, [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        mh::status_info s = mh::status();
        return !returned && s.awaiting == 1 && s.executing == 1 &&
               busy.unresolved();
    });

    auto start = std::chrono::steady_clock::now();
    mh::handle second = mh::mirai("sum(x)", {{"x", big}});
    returned = true;
    double waited = mirai::test::seconds_since(start);

    CHECK(watcher.get());
    CHECK(waited > 0.4);
    // It returned because the daemon took the first queued task.
    CHECK_FALSE(busy.unresolved());
    CHECK(busy.get<std::string>() == "slept");
    CHECK(first.get<double>() == 600000);
    CHECK(second.get<double>() == 300000);
}

TEST_CASE("mirai blocked by the budget ends on an R interrupt",
          "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::handle busy = occupy_daemon(8, 3000);
    mh::handle first = mh::mirai("length(x)", {{"x", big}});

    std::function<void()> interrupt;
    SECTION("R's flag")
    {
        // What R's own SIGINT handler does.
        interrupt = [] { R_interrupts_pending = 1; };
    }
    SECTION("session::interrupt")
    {
        interrupt = [] { host_session().interrupt(); };
    }
    auto interrupter = std::async(std::launch::async, [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        interrupt();
    });
    try {
        mh::mirai("sum(x)", {{"x", big}});
        FAIL("mirai did not throw");
    } catch (const mh::error& e) {
        CHECK(std::string(e.what()) ==
              "submit task on profile 'default': interrupted while "
              "waiting for room in the queue budget");
    }
    interrupter.get();
    CHECK(R_interrupts_pending == 0);
    CHECK(mh::status().awaiting == 1);
    CHECK(first.get<double>() == 600000);
}

TEST_CASE("status reports current and peak queued bytes",
          "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::handle busy = occupy_daemon(0, 800);

    std::vector<mh::handle> queued;
    std::uint64_t expected = 0;
    for (int n : {1000, 20000, 300000}) {
        std::vector<double> values(static_cast<std::size_t>(n), 1.0);
        queued.push_back(mh::mirai("sum(v)", {{"v", values}}));
        expected += task_bytes("sum(v)", {{"v", values}});
    }
    mh::status_info s = mh::status();
    CHECK(s.awaiting == 3);
    CHECK(s.awaiting_bytes == expected);
    CHECK(s.awaiting_bytes_peak == expected);

    CHECK(queued[0].get<double>() == 1000);
    CHECK(queued[1].get<double>() == 20000);
    CHECK(queued[2].get<double>() == 300000);
    s = mh::status();
    CHECK(s.awaiting_bytes == 0);
    CHECK(s.awaiting_bytes_peak == expected);
}

TEST_CASE("sync mode ignores the budget", "[host][r]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options options;
    options.sync = true;
    options.memory_mb = 1;
    mh::daemons(0, options);
    std::optional<mh::handle> task = mh::try_mirai("length(x)", {{"x", big}});
    REQUIRE(task.has_value());
    CHECK(task->get<double>() == 600000);
    CHECK(mh::status().awaiting_bytes == 0);
}

TEST_CASE("daemons rejects a memory budget too large to count",
          "[host][r]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options options;
    options.memory_mb = SIZE_MAX;
    try {
        mh::daemons(1, options);
        FAIL("daemons did not throw");
    } catch (const mh::error& e) {
        CHECK(std::string(e.what()).find(
                  "set daemons for profile 'default': memory_mb ") == 0);
        CHECK(std::string(e.what()).find("is too large: expected at most") !=
              std::string::npos);
    }
}
