// mirai_map collection options: stop at the first failure, progress.
#include "host/map.hpp"

#include "host/detail/progress.hpp"
#include "host/mirai.hpp"
#include "tests/host/host_fixture.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace mh = mirai::host;
using mirai::test::daemons_guard;
using mirai::test::host_session;
using mirai::test::seconds_since;

TEST_CASE("progress bar renders done, total and time", "[host]")
{
    using mh::detail::render_progress;
    CHECK(render_progress(0, 30, 0) ==
          "[>                             ] 0/30 00:00:00");
    CHECK(render_progress(10, 30, 65.4) ==
          "[==========>                   ] 10/30 00:01:05");
    CHECK(render_progress(29, 30, 3725.9) ==
          "[=============================>] 29/30 01:02:05");
    CHECK(render_progress(30, 30, 7) ==
          "[==============================] 30/30 00:00:07");
    CHECK(render_progress(0, 0, -1) ==
          "[==============================] 0/0 00:00:00");
    CHECK(render_progress(1, 3, 0).size() ==
          render_progress(2, 3, 0).size());
}

TEST_CASE("progress bar is off when stderr is no terminal",
          "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);

    char path[] = "/tmp/mirai-progress-XXXXXX";
    int file = mkstemp(path);
    REQUIRE(file >= 0);
    CHECK_FALSE(mh::detail::is_progress_shown(file));

    std::fflush(stderr);
    int saved = dup(STDERR_FILENO);
    REQUIRE(dup2(file, STDERR_FILENO) == STDERR_FILENO);
    mh::map_result map =
        mh::mirai_map(Rcpp::IntegerVector{1, 2, 3, 4}, "function(x) x * 2");
    mh::collect_options options;
    options.progress = true;
    Rcpp::List out = map.collect(options);
    std::fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);

    off_t written = lseek(file, 0, SEEK_END);
    close(file);
    unlink(path);
    CHECK(written == 0);
    REQUIRE(out.size() == 4);
    CHECK(Rcpp::as<int>(out[3]) == 8);
}

TEST_CASE("stop_on_error cancels the rest of a map", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);

    Rcpp::IntegerVector xs = Rcpp::seq(1, 20);
    auto start = std::chrono::steady_clock::now();
    mh::map_result map = mh::mirai_map(
        xs, "function(x) { if (x == 3) { Sys.sleep(0.2); "
            "stop('bad element ', x) }; Sys.sleep(0.5); x }");
    mh::collect_options options;
    options.stop_on_error = true;
    try {
        map.collect(options);
        FAIL("collect with stop_on_error did not throw");
    } catch (const mh::task_error& e) {
        CHECK(std::string(e.what()) ==
              "collect map: element 3 of 20 failed: bad element 3");
        CHECK(e.message() == "bad element 3");
        CHECK(e.code() == 0);
    }
    // Elements 1 and 2 finished at 0.5 s, element 3 failed at 0.7 s while
    // element 4 ran. It stopped then instead of running 4 s more.
    CHECK(seconds_since(start) < 3.0);
    CHECK(map[0].get<int>() == 1);
    CHECK(map[1].get<int>() == 2);
    CHECK(map[2].is_error());
    std::size_t cancelled = 0;
    for (std::size_t i = 3; i < map.size(); i++) {
        cancelled += map[i].error_code() == 20 ? 1 : 0;
    }
    CHECK(cancelled == 17);
    CHECK(mh::status().cancelled == 17);
    CHECK(mh::status().completed == 3);
    CHECK(mh::stop_mirai(map) == 0);
    CHECK(mh::mirai("'next'").get<std::string>() == "next");
}

TEST_CASE("stop_on_error reports an error value", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);

    mh::task_options options;
    options.timeout_ms = 300;
    mh::map_result map = mh::mirai_map(
        Rcpp::NumericVector{0, 5, 0}, "function(s) { Sys.sleep(s); s }", {},
        options);
    mh::collect_options stop;
    stop.stop_on_error = true;
    CHECK_THROWS_WITH(map.collect(stop),
                      "collect map: element 2 of 3 failed: error value 5: "
                      "Timed out");
    CHECK(map[0].get<double>() == 0);
    CHECK(map[1].error_code() == 5);
    // Without stop_on_error the same results are collected as a list.
    Rcpp::List out = map.collect();
    CHECK(Rf_inherits(out[1], "errorValue"));
}
