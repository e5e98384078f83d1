#include "host/mirai.hpp"

#include "tests/host/host_fixture.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace mh = mirai::host;
using mirai::test::daemons_guard;
using mirai::test::host_session;

TEST_CASE("mirai_map keeps the order of 1000 items", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);

    Rcpp::IntegerVector xs = Rcpp::seq(1, 1000);
    mh::map_result map = mh::mirai_map(xs, "function(x, k) x * k",
                                       {{"k", 3}});
    REQUIRE(map.size() == 1000);
    Rcpp::List out = map.collect_or_throw();
    REQUIRE(out.size() == 1000);
    for (int i = 0; i < 1000; i++) {
        REQUIRE(Rcpp::as<double>(out[i]) == 3.0 * (i + 1));
    }
    CHECK(mh::status().completed == 1000);
}

TEST_CASE("mirai_map keeps names of a list", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);

    Rcpp::List xs = Rcpp::List::create(Rcpp::Named("a") = 1.5,
                                       Rcpp::Named("b") = "text");
    Rcpp::List out = mh::mirai_map(xs, "class").collect();
    Rcpp::CharacterVector names = out.names();
    CHECK(Rcpp::as<std::string>(names[0]) == "a");
    CHECK(Rcpp::as<std::string>(names[1]) == "b");
    CHECK(Rcpp::as<std::string>(out[0]) == "numeric");
    CHECK(Rcpp::as<std::string>(out[1]) == "character");
}

TEST_CASE("mirai_map calls f once per data frame row", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);

    Rcpp::DataFrame frame = Rcpp::DataFrame::create(
        Rcpp::Named("a") = Rcpp::NumericVector{1, 2, 3},
        Rcpp::Named("b") = Rcpp::CharacterVector{"x", "y", "z"});
    Rcpp::List out =
        mh::mirai_map(frame, "function(b, a, sep) paste(b, a, sep = sep)",
                      {{"sep", "-"}})
            .collect_or_throw();
    REQUIRE(out.size() == 3);
    CHECK(Rcpp::as<std::string>(out[0]) == "x-1");
    CHECK(Rcpp::as<std::string>(out[2]) == "z-3");
}

TEST_CASE("mirai_map reports errors by index", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(2);

    Rcpp::NumericVector xs = {1, -1, 4};
    mh::map_result map = mh::mirai_map(
        xs, "function(x) if (x < 0) stop('negative: ', x) else sqrt(x)");
    Rcpp::List out = map.collect();
    CHECK(Rcpp::as<double>(out[0]) == 1);
    CHECK(Rf_inherits(out[1], "miraiError"));
    CHECK(Rcpp::as<double>(out[2]) == 2);
    CHECK_THROWS_WITH(map.collect_or_throw(), Catch::Contains("negative: -1"));
    CHECK_THROWS_WITH(map.collect_or_throw(),
                      Catch::StartsWith("collect map: element 2 of 3 failed: "));
}

TEST_CASE("mirai_map rejects bad input", "[host][r]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options sync;
    sync.sync = true;
    mh::daemons(0, sync);

    CHECK_THROWS_WITH(mh::mirai_map(R_GlobalEnv, "identity"),
                      Catch::Contains("expected a vector, a list, a matrix "
                                      "or a data frame, got environment"));
    CHECK_THROWS_WITH(mh::mirai_map(Rcpp::NumericVector{1}, "42"),
                      Catch::Contains("expected a function, got double"));
    CHECK_THROWS_WITH(mh::mirai_map(Rcpp::NumericVector{1}, "function("),
                      Catch::Contains("parse expression"));
}

TEST_CASE("mirai_map moves tasks stuck behind a slow one to an idle daemon",
          "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options options;
    // A long batch time, so that the batch size depends on the queue
    // alone and not on the blocker's time below.
    options.batch_us = 60U * 1000U * 1000U;
    mh::daemons(1, options);
    // One quick task first, so that the dispatcher has a task time.
    Rcpp::IntegerVector warm = Rcpp::seq(1, 50);
    mh::mirai_map(warm, "function(x) x").collect_or_throw();
    int first_pid = Rcpp::as<int>(mh::mirai("Sys.getpid()").value());

    char dir_template[] = "/tmp/mirai-map-test-XXXXXX";
    std::string release = std::string(mkdtemp(dir_template)) + "/release";
    mh::handle blocker = mh::mirai("Sys.sleep(0.3)");
    Rcpp::IntegerVector items = Rcpp::seq(0, 20);
    // While the daemon sleeps, the 21 items queue, and then they go to it
    // in one batch, item 0 first. Item 0 waits for the release file.
    mh::map_result map = mh::mirai_map(
        items,
        "function(i, release) { if (i == 0) while (!file.exists(release)) "
        "Sys.sleep(0.01); Sys.getpid() }",
        {{"release", release}});
    blocker.wait();
    mh::launch_local(1);

    // The second daemon gets the 20 items the first has not started.
    for (std::size_t i = 1; i < map.size(); i++) {
        REQUIRE(map[i].wait_for(20000));
    }
    int second_pid = Rcpp::as<int>(map[1].value());
    CHECK(second_pid != first_pid);
    for (std::size_t i = 1; i < map.size(); i++) {
        CHECK(Rcpp::as<int>(map[i].value()) == second_pid);
    }
    CHECK(map[0].unresolved());
    CHECK(mh::status().returned == 20);
    std::ofstream(release).put('x');
    CHECK(Rcpp::as<int>(map[0].value()) == first_pid);
    std::remove(release.c_str());
    rmdir(release.substr(0, release.rfind('/')).c_str());
}
