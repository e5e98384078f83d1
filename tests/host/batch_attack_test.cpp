// Attacks on batch dispatch through the C++ API: faults, cancels,
// timeouts and setups while daemons hold batches of queued tasks.
#include "host/mirai.hpp"

#include "tests/host/host_fixture.hpp"

#include <signal.h>

#include <map>
#include <thread>

namespace mh = mirai::host;
using mirai::test::daemons_guard;
using mirai::test::host_session;
using mirai::test::seconds_since;
using mirai::test::wait_running;

namespace {

// Tiny tasks so that the dispatcher measures a short time per task and
// starts sending batches.
void warm_up(int n)
{
    std::vector<mh::handle> tasks;
    for (int i = 0; i < n; i++) {
        tasks.push_back(mh::mirai("1"));
    }
    for (const mh::handle& t : tasks) {
        t.wait();
    }
}

// Submit n tasks that return i. Task number slow (1-based) sleeps first.
std::vector<mh::handle> submit_with_slow(int n, int slow, double seconds,
    const mh::task_options& options = {})
{
    std::vector<mh::handle> tasks;
    for (int i = 1; i <= n; i++) {
        tasks.push_back(mh::mirai("if (i == slow) Sys.sleep(s); i",
            {{"i", i}, {"slow", slow}, {"s", seconds}}, options));
    }
    return tasks;
}

std::map<int, int> count_codes(const std::vector<mh::handle>& tasks)
{
    std::map<int, int> counts;
    for (const mh::handle& t : tasks) {
        t.wait();
        counts[t.error_code()]++;
    }
    return counts;
}

void check_accounting(std::uint64_t submitted)
{
    mh::status_info s = mh::status();
    CHECK(s.awaiting == 0);
    CHECK(s.executing == 0);
    CHECK(s.completed + s.cancelled + s.failed == submitted);
}

} // namespace

// A lost daemon fails only the task it was running; the unstarted tasks
// of its batch are queued again.
TEST_CASE("batch kill fails only the running task", "[batchattack]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);
    warm_up(30);

    std::vector<mh::handle> tasks = submit_with_slow(200, 60, 30);
    std::uint64_t pid = wait_running(tasks[59]);
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    tasks[59].wait();
    CHECK(tasks[59].error_code() == 19);
    mh::launch_local(1);

    std::map<int, int> codes = count_codes(tasks);
    CHECK(codes[19] == 1);
    CHECK(codes[0] == 199);
    mh::status_info s = mh::status();
    CHECK(s.failed == 1);
    check_accounting(230);
}

TEST_CASE("batch kill with two daemons", "[batchattack]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);
    warm_up(30);

    std::vector<mh::handle> tasks = submit_with_slow(400, 150, 30);
    std::uint64_t pid = wait_running(tasks[149]);
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    std::map<int, int> codes = count_codes(tasks);
    CHECK(codes[19] == 1);
    CHECK(codes[0] == 399);
    check_accounting(430);
}

TEST_CASE("batch kill with retries reruns all", "[batchattack]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options options;
    options.retries = 1;
    mh::daemons(1, options);
    warm_up(30);

    std::vector<mh::handle> tasks = submit_with_slow(200, 60, 3);
    std::uint64_t pid = wait_running(tasks[59]);
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    mh::launch_local(1);
    std::map<int, int> codes = count_codes(tasks);
    CHECK(codes[0] == 200);
    for (int i = 0; i < 200; i++) {
        CHECK(tasks[i].get<int>() == i + 1);
    }
    check_accounting(230);
}

TEST_CASE("batch timeouts behind a slow task", "[batchattack]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);
    warm_up(30);

    mh::task_options options;
    options.timeout_ms = 800;
    std::vector<mh::handle> tasks = submit_with_slow(100, 10, 2, options);
    auto start = std::chrono::steady_clock::now();
    std::map<int, int> codes = count_codes(tasks);
    INFO("elapsed " << seconds_since(start));
    // Task 10 and those stuck behind it in its batch time out.
    CHECK(codes[5] >= 1);
    CHECK(codes[5] + codes[0] == 100);
    // The daemon must be usable afterwards.
    mh::handle after = mh::mirai("42");
    REQUIRE(after.wait_for(5000));
    CHECK(after.get<int>() == 42);
    check_accounting(131);
}

TEST_CASE("batch stop_mirai on a map in flight", "[batchattack]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);
    warm_up(30);

    for (int round = 0; round < 5; round++) {
        Rcpp::IntegerVector xs = Rcpp::seq(1, 3000);
        mh::map_result map = mh::mirai_map(xs,
            "function(x) { if (x %% 500 == 0) Sys.sleep(0.05); x }");
        std::this_thread::sleep_for(std::chrono::milliseconds(30 * round));
        std::size_t cancelled = mh::stop_mirai(map);
        std::map<int, int> codes = count_codes(map.tasks());
        CHECK(codes[20] == static_cast<int>(cancelled));
        CHECK(codes[0] + codes[20] == 3000);
    }
    mh::handle after = mh::mirai("42");
    REQUIRE(after.wait_for(5000));
    CHECK(after.get<int>() == 42);
    check_accounting(30 + 5 * 3000 + 1);
    CHECK(mh::status().connections == 2);
}

TEST_CASE("batch everywhere during a map", "[batchattack]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);
    warm_up(30);

    Rcpp::IntegerVector xs = Rcpp::seq(1, 4000);
    mh::map_result map = mh::mirai_map(xs, "function(x) x");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    mh::everywhere("assign('marker_value', 7L, envir = globalenv())");
    Rcpp::List out = map.collect_or_throw();
    for (int i = 0; i < 4000; i++) {
        REQUIRE(Rcpp::as<int>(out[i]) == i + 1);
    }
    for (int k = 0; k < 10; k++) {
        CHECK(mh::mirai("marker_value").get<int>() == 7);
    }
}

TEST_CASE("batch mixed large and small results", "[batchattack]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);
    warm_up(30);

    Rcpp::IntegerVector xs = Rcpp::seq(1, 2000);
    mh::map_result map = mh::mirai_map(xs,
        "function(x) if (x %% 7 == 0) rep(x, 5000) else x");
    Rcpp::List out = map.collect_or_throw();
    for (int i = 1; i <= 2000; i++) {
        Rcpp::IntegerVector v = out[i - 1];
        REQUIRE(v.size() == (i % 7 == 0 ? 5000 : 1));
        REQUIRE(v[0] == i);
    }
    check_accounting(2030);
}

TEST_CASE("batch errors keep their index", "[batchattack]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);
    warm_up(30);

    Rcpp::IntegerVector xs = Rcpp::seq(1, 1000);
    mh::map_result map = mh::mirai_map(xs,
        "function(x) if (x %% 13 == 0) stop('bad ', x) else x");
    count_codes(map.tasks());
    for (int i = 1; i <= 1000; i++) {
        const mh::handle& t = map[i - 1];
        REQUIRE(t.is_error() == (i % 13 == 0));
        if (i % 13 != 0) {
            REQUIRE(t.get<int>() == i);
        }
    }
    check_accounting(1030);
}

TEST_CASE("batch quit in a task", "[batchattack]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);
    warm_up(30);

    std::vector<mh::handle> tasks;
    for (int i = 1; i <= 200; i++) {
        tasks.push_back(mh::mirai("if (i == 60) quit(save = 'no'); i",
            {{"i", i}}));
    }
    tasks[59].wait();
    CHECK(tasks[59].error_code() == 19);
    mh::launch_local(1);
    std::map<int, int> codes = count_codes(tasks);
    CHECK(codes[19] == 1);
    CHECK(codes[0] == 199);
}

TEST_CASE("batch cleanup restores between tasks", "[batchattack]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);
    warm_up(30);

    Rcpp::IntegerVector xs = Rcpp::seq(1, 600);
    mh::map_result map = mh::mirai_map(xs,
        "function(x) { seen <- c(exists('leak_global', envir = globalenv()),"
        " !is.null(getOption('leak_option')), getOption('digits') != 7L);"
        " assign('leak_global', x, envir = globalenv());"
        " options(leak_option = x, digits = 3); any(seen) }");
    Rcpp::List out = map.collect_or_throw();
    int leaked = 0;
    for (int i = 0; i < 600; i++) {
        leaked += Rcpp::as<bool>(out[i]) ? 1 : 0;
    }
    CHECK(leaked == 0);
}

TEST_CASE("batch 100000 tiny tasks", "[batchattack][slow]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);

    auto start = std::chrono::steady_clock::now();
    Rcpp::IntegerVector xs = Rcpp::seq(1, 100000);
    mh::map_result map = mh::mirai_map(xs, "function(x) x + 1L");
    Rcpp::List out = map.collect_or_throw();
    WARN("100000 tasks in " << seconds_since(start) << " s, returned "
        << mh::status().returned);
    for (int i = 0; i < 100000; i++) {
        REQUIRE(Rcpp::as<int>(out[i]) == i + 2);
    }
    check_accounting(100000);
}

TEST_CASE("batch_us zero and huge", "[batchattack]")
{
    host_session();
    for (std::uint32_t budget : {0U, 4294967295U}) {
        daemons_guard guard;
        mh::daemons_options options;
        options.batch_us = budget;
        mh::daemons(2, options);
        warm_up(30);
        std::vector<mh::handle> tasks = submit_with_slow(300, 40, 1.0);
        auto start = std::chrono::steady_clock::now();
        std::map<int, int> codes = count_codes(tasks);
        INFO("budget " << budget << " elapsed " << seconds_since(start));
        CHECK(codes[0] == 300);
        CHECK(seconds_since(start) < 5.0);
        check_accounting(330);
        mh::daemons(0);
    }
}

TEST_CASE("batch launch_local while batches run", "[batchattack]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);
    warm_up(30);

    Rcpp::IntegerVector xs = Rcpp::seq(1, 3000);
    mh::map_result map = mh::mirai_map(xs,
        "function(x) { if (x %% 1000 == 0) Sys.sleep(0.5); x }");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    mh::launch_local(2);
    Rcpp::List out = map.collect_or_throw();
    for (int i = 0; i < 3000; i++) {
        REQUIRE(Rcpp::as<int>(out[i]) == i + 1);
    }
    check_accounting(3030);
}

TEST_CASE("batch maxtasks daemons run exactly n", "[batchattack]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options options;
    options.maxtasks = 5;
    mh::daemons(2, options);

    std::vector<mh::handle> tasks;
    for (int i = 0; i < 10; i++) {
        tasks.push_back(mh::mirai("Sys.getpid()"));
    }
    std::map<int, int> per_pid;
    for (const mh::handle& t : tasks) {
        REQUIRE(t.wait_for(10000));
        per_pid[t.get<int>()]++;
    }
    CHECK(per_pid.size() == 2);
    for (const auto& entry : per_pid) {
        CHECK(entry.second == 5);
    }
}
