// Scale: the dispatcher's cost per task must not grow with the number of
// connected daemons. The same work runs against 2 and 200 thread-less
// echo daemons (fake_daemon_pool) over ipc://, and the per-task wall and
// CPU times and their ratios are printed. Timing is reported, not
// asserted: the test machine is shared and small, so only correctness is
// checked.
#include "dispatcher/dispatcher.h"

#include "tests/dispatcher/dispatcher_fixture.hpp"
#include "tests/support/fake_daemon_pool.hpp"

#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <cstdio>

using namespace mirai::test;

namespace {

using clock_type = std::chrono::steady_clock;

// The time this process has spent on CPU, in all threads, in microseconds.
double cpu_micros()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 +
        usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

double micros_since(clock_type::time_point start)
{
    return std::chrono::duration<double, std::micro>(clock_type::now() -
        start).count();
}

// Wall and CPU time spent on a number of tasks.
struct cost {
    double wall_us = 0;
    double cpu_us = 0;
    int tasks = 0;

    double wall_per_task() const { return wall_us / tasks; }
    double cpu_per_task() const { return cpu_us / tasks; }
};

// A dispatcher with its own pool of echo daemons. Each task's payload is
// its sequence number, so that task id n must return n - 1.
class bench {
public:
    explicit bench(std::size_t daemons) : pool_(f_.url(), daemons)
    {
        REQUIRE(dsp_dispatcher_wait_connections(f_.get(),
                    static_cast<uint32_t>(daemons), 30000) == DSP_OK);
    }

    // Submit n tasks at once and wait for all of them.
    void run_queued(int n, cost& out)
    {
        auto start = clock_type::now();
        double cpu = cpu_micros();
        for (int i = 0; i < n; i++) {
            submit_next();
        }
        REQUIRE(f_.sink.wait_count(submitted_, 60s));
        add(out, start, cpu, n);
    }

    // Submit n tasks one by one, each after the previous one resolved.
    void run_round_trips(int n, cost& out)
    {
        auto start = clock_type::now();
        double cpu = cpu_micros();
        for (int i = 0; i < n; i++) {
            submit_next();
            REQUIRE(f_.sink.wait_count(submitted_, 10s));
        }
        add(out, start, cpu, n);
    }

    // Check that every task resolved exactly once with its own payload
    // and that every daemon took part.
    void check() const
    {
        std::vector<int> seen(submitted_ + 1, 0);
        for (const completion& c : f_.sink.all()) {
            REQUIRE(c.id >= 1);
            REQUIRE(c.id <= submitted_);
            REQUIRE(c.status == DSP_OK);
            REQUIRE(c.payload == std::to_string(c.id - 1));
            seen[c.id]++;
        }
        for (std::size_t id = 1; id <= submitted_; id++) {
            INFO("task " << id);
            REQUIRE(seen[id] == 1);
        }

        // Idle daemons take tasks in turn, so one at a time reaches all.
        uint64_t answered = 0;
        for (std::size_t i = 0; i < pool_.size(); i++) {
            INFO("daemon " << i + 1 << " of " << pool_.size());
            CHECK(pool_.answered(i) > 0);
            answered += pool_.answered(i);
        }
        CHECK(answered == submitted_);

        dsp_stats s = f_.stats();
        CHECK(s.completed == submitted_);
        CHECK(s.failed == 0);
        CHECK(s.awaiting == 0);
        CHECK(s.executing == 0);
        CHECK(s.awaiting_bytes == 0);
    }

private:
    void submit_next()
    {
        uint64_t id = f_.submit(std::to_string(submitted_));
        REQUIRE(id == submitted_ + 1);
        submitted_++;
    }

    static void add(cost& out, clock_type::time_point start, double cpu,
        int n)
    {
        out.wall_us += micros_since(start);
        out.cpu_us += cpu_micros() - cpu;
        out.tasks += n;
    }

    dispatcher_fixture f_;
    fake_daemon_pool pool_;
    std::size_t submitted_ = 0;
};

void print_row(const char* mode, const cost& small, const cost& large)
{
    std::printf("  %-22s wall %6.1f us vs %6.1f us (ratio %.2f), "
                "cpu %6.1f us vs %6.1f us (ratio %.2f)\n",
        mode, small.wall_per_task(), large.wall_per_task(),
        large.wall_per_task() / small.wall_per_task(), small.cpu_per_task(),
        large.cpu_per_task(), large.cpu_per_task() / small.cpu_per_task());
}

} // namespace

TEST_CASE("dispatch cost per task does not grow from 2 to 200 daemons",
    "[dispatcher][net][slow]")
{
    const int rounds = 30;
    const int queued_batch = 2000;
    const int round_trip_batch = 200;

    // Both setups live side by side and take turns in small batches, so
    // that changes in the load of the shared machine affect both alike.
    // Idle pool members cost nothing: they wait on aios, not threads.
    bench small(2);
    bench large(200);
    cost queued[2];
    cost trips[2];
    bench* benches[2] = {&small, &large};
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            benches[k]->run_queued(queued_batch, queued[k]);
            benches[k]->run_round_trips(round_trip_batch, trips[k]);
        }
    }
    small.check();
    large.check();

    std::printf("dispatch cost per task, 2 vs 200 echo daemons over "
                "ipc://, %d rounds (cpu: whole process, daemons "
                "included)\n",
        rounds);
    print_row("tasks queued at once", queued[0], queued[1]);
    print_row("one task at a time", trips[0], trips[1]);
    std::fflush(stdout);
    CHECK(queued[1].tasks == rounds * queued_batch);
    CHECK(trips[1].tasks == rounds * round_trip_batch);
}
