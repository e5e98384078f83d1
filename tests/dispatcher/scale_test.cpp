// Scale: the dispatcher's cost per task must not grow with the number of
// connected daemons. The same work runs against 2 and 200 thread-less
// echo daemons (fake_daemon_pool) over ipc://, and the per-task times and
// their ratio are printed. Timing is reported, not asserted: the test
// machine is shared and small, so only correctness is checked.
#include "dispatcher/dispatcher.h"

#include "tests/dispatcher/dispatcher_fixture.hpp"
#include "tests/support/fake_daemon_pool.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>

using namespace mirai::test;

namespace {

struct overhead {
    double queued_us = 0;     // wall time per task, all queued at once
    double round_trip_us = 0; // submit to completion, one task at a time
};

using clock_type = std::chrono::steady_clock;

double micros_since(clock_type::time_point start, int tasks)
{
    std::chrono::duration<double, std::micro> d = clock_type::now() - start;
    return d.count() / tasks;
}

// Check that every task in [first, first + n) resolved exactly once with
// its own payload: the text of its index.
void check_echoes(const result_sink& sink, uint64_t first, int n)
{
    std::vector<int> seen(static_cast<std::size_t>(n), 0);
    for (const completion& c : sink.all()) {
        if (c.id < first || c.id >= first + static_cast<uint64_t>(n)) {
            continue;
        }
        REQUIRE(c.status == DSP_OK);
        REQUIRE(c.payload == std::to_string(c.id - first));
        seen[c.id - first]++;
    }
    for (int i = 0; i < n; i++) {
        INFO("task " << first + static_cast<uint64_t>(i));
        REQUIRE(seen[static_cast<std::size_t>(i)] == 1);
    }
}

overhead measure(std::size_t daemons, int queued_tasks, int round_trips)
{
    dispatcher_fixture f;
    fake_daemon_pool pool(f.url(), daemons);
    REQUIRE(dsp_dispatcher_wait_connections(f.get(),
                static_cast<uint32_t>(daemons), 30000) == DSP_OK);
    overhead out;

    auto start = clock_type::now();
    uint64_t first = 0;
    for (int i = 0; i < queued_tasks; i++) {
        uint64_t id = f.submit(std::to_string(i));
        first = i == 0 ? id : first;
    }
    REQUIRE(f.sink.wait_count(static_cast<std::size_t>(queued_tasks), 120s));
    out.queued_us = micros_since(start, queued_tasks);
    check_echoes(f.sink, first, queued_tasks);

    start = clock_type::now();
    uint64_t next = first + static_cast<uint64_t>(queued_tasks);
    for (int i = 0; i < round_trips; i++) {
        REQUIRE(f.submit(std::to_string(i)) == next + i);
        REQUIRE(f.sink.wait_count(
            static_cast<std::size_t>(queued_tasks + i + 1), 10s));
    }
    out.round_trip_us = micros_since(start, round_trips);
    check_echoes(f.sink, next, round_trips);

    // Idle daemons take tasks in turn, so one at a time reaches them all.
    uint64_t answered = 0;
    for (std::size_t i = 0; i < pool.size(); i++) {
        INFO("daemon " << i + 1 << " of " << pool.size());
        CHECK(pool.answered(i) > 0);
        answered += pool.answered(i);
    }
    CHECK(answered == static_cast<uint64_t>(queued_tasks + round_trips));

    dsp_stats s = f.stats();
    CHECK(s.completed == static_cast<uint64_t>(queued_tasks + round_trips));
    CHECK(s.failed == 0);
    CHECK(s.awaiting == 0);
    CHECK(s.executing == 0);
    CHECK(s.awaiting_bytes == 0);
    return out;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

TEST_CASE("dispatch cost per task does not grow from 2 to 200 daemons",
    "[dispatcher][net][slow]")
{
    const int queued_tasks = 20000;
    const int round_trips = 2000;
    const int rounds = 3;
    const std::size_t counts[] = {2, 200};

    // Alternate the two sizes so that a burst of load from other
    // processes on the machine affects both alike; report medians.
    std::vector<double> queued[2];
    std::vector<double> trips[2];
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            overhead o = measure(counts[k], queued_tasks, round_trips);
            queued[k].push_back(o.queued_us);
            trips[k].push_back(o.round_trip_us);
        }
    }

    double q2 = median(queued[0]), q200 = median(queued[1]);
    double t2 = median(trips[0]), t200 = median(trips[1]);
    std::printf("dispatch overhead per task, median of %d rounds, "
                "echo daemons over ipc://\n",
        rounds);
    std::printf("  %d tasks queued at once: 2 daemons %.1f us, "
                "200 daemons %.1f us, ratio %.2f\n",
        queued_tasks, q2, q200, q200 / q2);
    std::printf("  %d round trips one by one: 2 daemons %.1f us, "
                "200 daemons %.1f us, ratio %.2f\n",
        round_trips, t2, t200, t200 / t2);
    std::fflush(stdout);
    CHECK(q2 > 0);
    CHECK(t2 > 0);
}
