// Large vectors through real daemons: they arrive as borrowed vectors on
// both sides, behave like ordinary vectors, and their memory goes back
// to the system.
#include "host/mirai.hpp"

#include "sync/detail/borrowed_vector.hpp"
#include "tests/host/host_fixture.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

namespace mh = mirai::host;
using mirai::sync::detail::is_borrowed_vector;
using mirai::test::daemons_guard;
using mirai::test::host_session;

namespace {

// R code that is TRUE when x is a borrowed vector in the daemon.
const char* is_borrowed_in_daemon =
    "any(grepl('mirai-cpp borrowed vector', "
    "capture.output(.Internal(inspect(x)))))";

// The resident set of process pid in MB, or 0 when it cannot be read.
double resident_mb(std::uint64_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, 6, "VmRSS:") == 0)
            return std::atof(line.c_str() + 6) / 1024;
    }
    return 0;
}

} // namespace

TEST_CASE("a large result arrives borrowed", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    REQUIRE(mh::daemons(1) == 1);

    Rcpp::RObject value =
        mh::mirai("structure(seq_len(1e6) / 4, names = NULL, tag = 'q')")
            .value();
    REQUIRE(TYPEOF(value) == REALSXP);
    CHECK(is_borrowed_vector(value));
    Rcpp::NumericVector x(value);
    REQUIRE(x.size() == 1000000);
    CHECK(x[0] == 0.25);
    CHECK(x[999999] == 250000);
    CHECK(Rcpp::as<std::string>(x.attr("tag")) == "q");
}

TEST_CASE("large task data arrives borrowed", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    REQUIRE(mh::daemons(1) == 1);

    std::vector<double> values(1000000, 0.5);
    values[999999] = 4;
    mh::handle task = mh::mirai(
        std::string("c(") + is_borrowed_in_daemon + ", sum(x))",
        {{"x", values}});
    Rcpp::NumericVector out = task.get<Rcpp::NumericVector>();
    REQUIRE(out.size() == 2);
    CHECK(out[0] == 1);
    CHECK(out[1] == 999999 * 0.5 + 4);

    // Changed in place on the daemon, then sent back from that memory.
    mh::handle changed =
        mh::mirai("x[1] <- -1; x[length(x)] <- 7; x", {{"x", values}});
    Rcpp::NumericVector back = changed.get<Rcpp::NumericVector>();
    REQUIRE(back.size() == 1000000);
    CHECK(back[0] == -1);
    CHECK(back[1] == 0.5);
    CHECK(back[999999] == 7);
}

TEST_CASE("borrowed payloads do not pile up on a daemon", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    REQUIRE(mh::daemons(1) == 1);

    // 12 tasks of 100 MB each, back to back: 1.2 GB in all, more than the
    // 512 MB that a daemon lets borrowed payloads reach before it collects.
    std::vector<double> values(12500000, 1.5);
    for (int i = 0; i < 12; i++) {
        CHECK(mh::mirai("length(x)", {{"x", values}}).get<double>() ==
              12500000);
    }
    mh::status_info s = mh::status();
    REQUIRE(s.daemons.size() == 1);
    double busy_mb = resident_mb(s.daemons[0].pid);
    CHECK(busy_mb > 0);
    CHECK(busy_mb < 900);

    // Once idle for a second, the daemon gives the memory back.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    double idle_mb = resident_mb(s.daemons[0].pid);
    CHECK(idle_mb < 200);
}
