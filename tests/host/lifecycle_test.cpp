// Daemon options and lifecycle seen from the host API: limits that retire
// daemons, launch_local, cleanup, output, daemons(0) with busy daemons,
// and session::interrupt from another thread.
#include "host/mirai.hpp"

#include "tests/host/host_fixture.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace mh = mirai::host;
using mirai::test::daemons_guard;
using mirai::test::host_session;
using mirai::test::is_gone;
using mirai::test::live_daemons;
using mirai::test::seconds_since;

namespace {

using clock_type = std::chrono::steady_clock;

void pause_ms(int ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// Wait up to timeout_ms for condition; true when it held.
template <typename Condition>
bool eventually(Condition condition, int timeout_ms)
{
    auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
    while (clock_type::now() < deadline) {
        if (condition()) {
            return true;
        }
        pause_ms(10);
    }
    return condition();
}

bool path_exists(const std::string& path)
{
    struct stat info;
    return stat(path.c_str(), &info) == 0;
}

// Interrupt the session from another thread after delay_ms.
std::thread interrupt_later(int delay_ms)
{
    return std::thread([delay_ms] {
        pause_ms(delay_ms);
        host_session().interrupt();
    });
}

} // namespace

TEST_CASE("maxtasks retires a daemon and launch_local replaces it",
          "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options options;
    options.maxtasks = 2;
    mh::daemons(1, options);

    // All three are queued at once: the daemon runs exactly two.
    mh::handle one = mh::mirai("Sys.getpid()");
    mh::handle two = mh::mirai("Sys.getpid()");
    mh::handle third = mh::mirai("Sys.getpid()");
    int first = one.get<int>();
    CHECK(two.get<int>() == first);
    CHECK(eventually([] { return mh::status().connections == 0; }, 5000));
    CHECK(eventually([&] { return is_gone(first); }, 5000));

    // The third task waits in the queue for a daemon.
    CHECK(third.unresolved());
    CHECK(mh::launch_local(1) == 1);
    int replacement = third.get<int>();
    CHECK(replacement != first);
    CHECK(mh::status().failed == 0);
}

TEST_CASE("launch_local adds daemons without a reset", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);
    mh::handle running = mh::mirai("Sys.sleep(1); 11L");

    CHECK(mh::launch_local(2) == 3);
    CHECK(mh::status().connections == 3);
    CHECK(running.get<int>() == 11);
    CHECK(live_daemons().size() == 3);
}

TEST_CASE("launch_local rejects bad requests", "[host][r]")
{
    host_session();
    daemons_guard guard;
    CHECK_THROWS_WITH(mh::launch_local(0),
                      Catch::Contains("expected a count of 1 or more, got 0"));
    CHECK_THROWS_WITH(mh::launch_local(1, "never-set"),
                      Catch::Contains("add daemons to profile 'never-set': "
                                      "no daemons set"));
    mh::daemons_options sync;
    sync.sync = true;
    sync.profile = "sync-only";
    mh::daemons(0, sync);
    CHECK_THROWS_WITH(mh::launch_local(1, "sync-only"),
                      Catch::Contains("the profile is in sync mode"));
}

TEST_CASE("daemons rejects negative limits", "[host][r]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options options;
    options.idletime_ms = -1;
    CHECK_THROWS_WITH(mh::daemons(1, options),
                      Catch::Contains("idletime_ms: expected 0 (no limit) "
                                      "or more, got -1"));
    CHECK_FALSE(mh::status().is_set);
}

TEST_CASE("idletime ends an idle daemon", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options options;
    options.idletime_ms = 500;
    mh::daemons(1, options);
    int pid = mh::mirai("Sys.getpid()").get<int>();

    CHECK(eventually([] { return mh::status().connections == 0; }, 5000));
    CHECK(eventually([&] { return is_gone(pid); }, 5000));
}

TEST_CASE("cleanup resets daemons between tasks, not after everywhere",
          "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);
    mh::everywhere("assign('shared', 3L, envir = globalenv())");
    mh::mirai("assign('stray', 1, envir = globalenv()); "
              "options(mirai.test.option = 1); library(tools); NULL")
        .value();

    CHECK_FALSE(mh::mirai("exists('stray')").get<bool>());
    CHECK(mh::mirai("is.null(getOption('mirai.test.option'))").get<bool>());
    CHECK_FALSE(mh::mirai("'package:tools' %in% search()").get<bool>());
    CHECK(mh::mirai("shared").get<int>() == 3);
}

TEST_CASE("output option forwards daemon stdout to the host",
          "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    bool is_forwarded = false;
    SECTION("output true")
    {
        is_forwarded = true;
    }
    SECTION("output false (default)")
    {
    }

    // Daemons inherit the host's stdout when started, so point it at a
    // file for the duration.
    char path[] = "/tmp/mirai-output-test-XXXXXX";
    int file = mkstemp(path);
    REQUIRE(file >= 0);
    std::fflush(stdout);
    int saved = dup(1);
    dup2(file, 1);
    mh::daemons_options options;
    options.output = is_forwarded;
    mh::daemons(1, options);
    dup2(saved, 1);
    close(saved);
    close(file);

    mh::mirai("cat('printed by a daemon\\n'); flush(stdout()); NULL").value();
    mh::daemons(0);
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::remove(path);
    CHECK((text.str().find("printed by a daemon") != std::string::npos) ==
          is_forwarded);
}

TEST_CASE("daemons(0) ends busy daemons and removes the private directory",
          "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);
    std::string url = mh::status().url;
    std::string dir = url.substr(6, url.rfind('/') - 6);
    std::string child =
        mh::mirai("system('sleep 100 > /dev/null 2>&1 & echo $!', "
                  "intern = TRUE)")
            .get<std::string>();
    mh::handle sleeping = mh::mirai("Sys.sleep(60)");
    mh::handle busy = mh::mirai(
        "repeat tryCatch(Sys.sleep(30), interrupt = function(e) NULL)");
    REQUIRE(eventually([] { return mh::status().executing == 2; }, 5000));
    pause_ms(300); // let both daemons enter their tasks' R code
    REQUIRE(path_exists(dir));
    REQUIRE_FALSE(is_gone(std::stoi(child)));

    auto start = clock_type::now();
    mh::daemons(0);
    CHECK(seconds_since(start) < 2.0);
    CHECK(live_daemons().empty());
    CHECK(sleeping.error_code() == 19);
    CHECK(busy.error_code() == 19);
    CHECK_FALSE(path_exists(dir));
    // The background child of a task ended with its daemon.
    CHECK(eventually([&] { return is_gone(std::stoi(child)); }, 2000));
}

TEST_CASE("interrupt stops sync tasks without leaking", "[host][r]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options sync;
    sync.sync = true;
    mh::daemons(0, sync);
    std::string code;
    SECTION("busy loop")
    {
        code = "repeat {}";
    }
    SECTION("Sys.sleep")
    {
        code = "Sys.sleep(30)";
    }

    std::thread interrupter = interrupt_later(300);
    auto start = clock_type::now();
    mh::handle h = mh::mirai(code);
    interrupter.join();
    CHECK(seconds_since(start) < 1.3);
    CHECK(Rf_inherits(h.value(), "miraiInterrupt"));

    // An interrupt while R is idle is dropped, not kept for later.
    host_session().interrupt();
    CHECK(mh::mirai("Sys.sleep(0.2); 5L").get<int>() == 5);
    CHECK(Rcpp::as<int>(host_session().evaluate("6L")) == 6);
}

TEST_CASE("interrupt ends session evaluate", "[host][r]")
{
    host_session();
    std::thread interrupter = interrupt_later(300);
    auto start = clock_type::now();
    CHECK_THROWS_AS(host_session().evaluate("Sys.sleep(30)"),
                    mh::interrupted);
    interrupter.join();
    CHECK(seconds_since(start) < 1.3);
    CHECK_THROWS_WITH(host_session().evaluate("stop('boom')"),
                      Catch::Contains("evaluate R code: ") &&
                          Catch::Contains("boom"));
    CHECK_THROWS_WITH(host_session().evaluate("1 +"),
                      Catch::StartsWith("parse R code: "));
    CHECK(Rcpp::as<int>(host_session().evaluate("x <- 2L; x * 3L")) == 6);
}

TEST_CASE("interrupt ends a wait and the handle still resolves",
          "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);
    mh::handle h = mh::mirai("Sys.sleep(1); 7L");

    std::thread interrupter = interrupt_later(200);
    SECTION("wait")
    {
        CHECK_THROWS_AS(h.wait(), mh::interrupted);
    }
    SECTION("get")
    {
        CHECK_THROWS_WITH(h.get<int>(), Catch::Contains("interrupted"));
    }
    SECTION("race_mirai")
    {
        CHECK_THROWS_WITH(mh::race_mirai({h}), "race tasks: interrupted");
    }
    interrupter.join();
    CHECK(h.unresolved());
    h.wait();
    CHECK(h.get<int>() == 7);
}
