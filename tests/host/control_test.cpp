// Task control through the host API: stop_mirai and timeouts.
#include "host/mirai.hpp"

#include "tests/host/host_fixture.hpp"

#include <algorithm>
#include <random>
#include <thread>

namespace mh = mirai::host;
using mirai::test::daemons_guard;
using mirai::test::host_session;
using mirai::test::seconds_since;
using mirai::test::wait_running;

namespace {

using clock_type = std::chrono::steady_clock;

std::vector<std::uint64_t> daemon_pids()
{
    std::vector<std::uint64_t> pids;
    for (const mh::daemon_status& d : mh::status().daemons) {
        pids.push_back(d.pid);
    }
    std::sort(pids.begin(), pids.end());
    return pids;
}

std::string temp_path(const char* prefix)
{
    Rcpp::Function tempfile("tempfile");
    return Rcpp::as<std::string>(tempfile(prefix));
}

bool file_exists(const std::string& path)
{
    return ::access(path.c_str(), F_OK) == 0;
}

mh::task_options with_timeout(long ms)
{
    mh::task_options options;
    options.timeout_ms = ms;
    return options;
}

} // namespace

TEST_CASE("stop_mirai removes a queued task", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);
    std::string path = temp_path("queued");

    mh::handle blocker = mh::mirai("Sys.sleep(0.5); 'blocker'");
    mh::handle queued = mh::mirai("writeLines('ran', path); 'queued'",
                                  {{"path", path}});
    CHECK(mh::status().awaiting == 1);

    CHECK(mh::stop_mirai(queued));
    CHECK_FALSE(queued.unresolved());
    CHECK(queued.error_code() == 20);
    CHECK(Rf_inherits(queued.value(), "errorValue"));
    CHECK(blocker.get<std::string>() == "blocker");
    CHECK(mh::mirai("1").get<int>() == 1);
    CHECK_FALSE(file_exists(path));

    mh::status_info info = mh::status();
    CHECK(info.awaiting == 0);
    CHECK(info.executing == 0);
    CHECK(info.completed == 2);
    CHECK(info.cancelled == 1);
    CHECK(info.failed == 0);
}

TEST_CASE("stop_mirai interrupts busy code and Sys.sleep", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);
    std::uint64_t pid = mh::mirai("Sys.getpid()").get<int>();

    const char* codes[] = {"Sys.sleep(30)",
                           "x <- 0; repeat x <- x + sum(runif(100))"};
    for (const char* code : codes) {
        INFO("task code: " << code);
        mh::handle task = mh::mirai(code);
        CHECK(wait_running(task) == pid);

        auto start = clock_type::now();
        CHECK(mh::stop_mirai(task));
        CHECK(task.error_code() == 20);
        // The daemon is free again and is the same process.
        mh::handle next = mh::mirai("Sys.getpid()");
        REQUIRE(next.wait_for(2000));
        CHECK(seconds_since(start) < 2.0);
        CHECK(next.get<int>() == static_cast<int>(pid));
    }
    mh::status_info info = mh::status();
    CHECK(info.connections == 1);
    CHECK(info.cancelled == 2);
    CHECK(info.completed == 3);
    CHECK(info.failed == 0);
}

TEST_CASE("stop_mirai on a resolved task is a no-op", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);

    mh::handle done = mh::mirai("41 + 1");
    CHECK(done.get<int>() == 42);
    CHECK_FALSE(mh::stop_mirai(done));
    CHECK(done.get<int>() == 42);
    CHECK(done.error_code() == 0);

    mh::handle cancelled = mh::mirai("Sys.sleep(30)");
    CHECK(mh::stop_mirai(cancelled));
    CHECK_FALSE(mh::stop_mirai(cancelled));
    CHECK(cancelled.error_code() == 20);
    CHECK(mh::status().cancelled == 1);
    CHECK(mh::status().completed == 1);

    CHECK_THROWS_WITH(mh::stop_mirai(mh::handle()),
                      "stop task: empty handle");
    // After a reset the old tasks are resolved (19): nothing to cancel.
    mh::handle lost = mh::mirai("Sys.sleep(30)");
    mh::daemons(0);
    CHECK_FALSE(mh::stop_mirai(lost));
    CHECK(lost.error_code() == 19);
}

TEST_CASE("stop_mirai works from another thread", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);

    mh::handle task = mh::mirai("Sys.sleep(30)");
    wait_running(task);
    bool cancelled = false;
    std::thread other([&] { cancelled = mh::stop_mirai(task); });
    other.join();
    CHECK(cancelled);
    CHECK(task.error_code() == 20);
    CHECK(mh::mirai("2").get<int>() == 2);
}

TEST_CASE("stop_mirai cancels a list of tasks", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);

    std::vector<mh::handle> tasks;
    tasks.push_back(mh::mirai("1"));
    REQUIRE(tasks.back().wait_for(5000));
    for (int i = 0; i < 6; i++) {
        tasks.push_back(mh::mirai("Sys.sleep(30)"));
    }
    // The first has returned, two run and four wait.
    std::size_t cancelled = mh::stop_mirai(tasks);
    CHECK(cancelled == 6);
    CHECK(tasks[0].get<int>() == 1);
    for (int i = 1; i < 7; i++) {
        CHECK(tasks[i].error_code() == 20);
    }
    CHECK(mh::stop_mirai(tasks) == 0);
    CHECK(mh::status().cancelled == 6);
}

TEST_CASE("200 rounds of cancel keep daemons alive", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);
    std::vector<std::uint64_t> pids = daemon_pids();
    REQUIRE(pids.size() == 2);

    // Cancel at every stage: queued, on its way to the daemon, running.
    std::mt19937 random(7);
    std::uniform_int_distribution<int> delay_us(0, 3000);
    const char* codes[] = {"Sys.sleep(10)", "repeat NULL", "1 + 1"};
    std::size_t cancelled = 0;
    for (int round = 0; round < 200; round++) {
        std::vector<mh::handle> tasks;
        for (const char* code : codes) {
            tasks.push_back(mh::mirai(code));
        }
        std::this_thread::sleep_for(
            std::chrono::microseconds(delay_us(random)));
        cancelled += mh::stop_mirai(tasks);
        for (const mh::handle& t : tasks) {
            REQUIRE(t.wait_for(5000));
        }
    }

    mh::handle last = mh::mirai("Sys.getpid()");
    REQUIRE(last.wait_for(5000));
    int pid = last.get<int>();
    CHECK(std::count(pids.begin(), pids.end(), pid) == 1);
    CHECK(daemon_pids() == pids);
    mh::status_info info = mh::status();
    CHECK(info.connections == 2);
    CHECK(info.cancelled == cancelled);
    // Every sleeping or looping task was cancelled; "1 + 1" may finish.
    CHECK(cancelled >= 400);
    CHECK(info.completed == 600 - cancelled + 1);
    CHECK(info.failed == 0);
    CHECK(info.awaiting == 0);
    CHECK(info.executing == 0);
}

TEST_CASE("timeout stops the task and frees its daemon", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);
    std::uint64_t pid = mh::mirai("Sys.getpid()").get<int>();
    std::string path = temp_path("late");

    auto start = clock_type::now();
    mh::handle task = mh::mirai("Sys.sleep(3); writeLines('late', path); 1",
                                {{"path", path}}, with_timeout(500));
    REQUIRE(task.wait_for(1500));
    double timed_out_at = seconds_since(start);
    CHECK(timed_out_at >= 0.45);
    CHECK(timed_out_at < 1.5);
    CHECK(task.error_code() == 5);
    CHECK(Rf_inherits(task.value(), "errorValue"));
    CHECK_THROWS_WITH(task.get<int>(),
                      Catch::Contains("error value 5: Timed out"));

    auto next_start = clock_type::now();
    mh::handle next = mh::mirai("Sys.getpid()");
    REQUIRE(next.wait_for(1500));
    CHECK(seconds_since(next_start) < 1.5);
    CHECK(next.get<int>() == static_cast<int>(pid));

    // The interrupted task never reaches its side effect.
    std::this_thread::sleep_until(start + std::chrono::milliseconds(3500));
    CHECK_FALSE(file_exists(path));
    mh::status_info info = mh::status();
    CHECK(info.failed == 1);
    CHECK(info.cancelled == 0);
    CHECK(info.completed == 2);
}

TEST_CASE("queued task's deadline counts from submission",
          "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);

    auto start = clock_type::now();
    mh::handle blocker = mh::mirai("Sys.sleep(1.5); 'done'");
    mh::handle queued = mh::mirai("'never'", {}, with_timeout(300));
    REQUIRE(queued.wait_for(1200));
    CHECK(seconds_since(start) < 1.2);
    CHECK(queued.error_code() == 5);
    CHECK(blocker.unresolved());
    CHECK(blocker.get<std::string>() == "done");

    // A timeout that does not expire changes nothing.
    mh::handle quick = mh::mirai("'quick'", {}, with_timeout(10000));
    CHECK(quick.get<std::string>() == "quick");
    CHECK(mh::status().failed == 1);
    CHECK(mh::status().completed == 2);
}

TEST_CASE("timeout must be positive", "[host][r]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);

    CHECK_THROWS_WITH(mh::mirai("1", {}, with_timeout(0)),
                      "create task: expected a positive timeout in ms, "
                      "got 0");
    CHECK_THROWS_WITH(mh::mirai("1", {}, with_timeout(-20)),
                      "create task: expected a positive timeout in ms, "
                      "got -20");
    CHECK_THROWS_WITH(mh::mirai("1", {}, with_timeout(1L << 40)),
                      Catch::Contains("expected a timeout of at most "
                                      "2147483647 ms"));
    CHECK_THROWS_WITH(mh::mirai_map(Rcpp::IntegerVector{1, 2}, "identity",
                                    {}, with_timeout(0)),
                      "map: expected a positive timeout in ms, got 0");
    mh::task_options negative_retries;
    negative_retries.retries = -1;
    CHECK_THROWS_WITH(mh::mirai("1", {}, negative_retries),
                      "create task: expected retries of 0 or more, got -1");
    CHECK(mh::status().awaiting == 0);
    CHECK(mh::mirai("3").get<int>() == 3);
}
