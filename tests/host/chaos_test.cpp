// Chaos: daemons are killed and replaced while a large map runs.
#include "host/mirai.hpp"

#include "tests/host/host_fixture.hpp"

#include <random>

namespace mh = mirai::host;
using mirai::test::daemons_guard;
using mirai::test::host_session;
using mirai::test::seconds_since;

namespace {

// Run the chaos map; returns how many tasks resolved to error value 19.
int run_chaos(int retries)
{
    mh::daemons_options options;
    options.retries = retries;
    mh::daemons(4, options);

    const int total = 5000;
    auto start = std::chrono::steady_clock::now();
    Rcpp::IntegerVector xs = Rcpp::seq(1, total);
    mh::map_result map =
        mh::mirai_map(xs, "function(x) { Sys.sleep(0.001); x }");

    // On the R thread, as launch_local requires: every 150 ms kill one
    // daemon with SIGKILL and start a replacement, while tasks remain.
    std::mt19937 random(42);
    int killed = 0;
    while (killed < 12 && seconds_since(start) < 40) {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        mh::status_info info = mh::status();
        if (info.awaiting + info.executing == 0) {
            break;
        }
        if (info.daemons.size() < 3) {
            continue; // let replacements connect first
        }
        std::uniform_int_distribution<std::size_t> pick(
            0, info.daemons.size() - 1);
        ::kill(static_cast<pid_t>(info.daemons[pick(random)].pid), SIGKILL);
        killed++;
        mh::launch_local(1);
    }

    Rcpp::List out = map.collect();
    REQUIRE(out.size() == total);
    int values = 0;
    int lost = 0;
    for (int i = 0; i < total; i++) {
        if (map[i].error_code() == 19) {
            lost++;
        } else if (Rcpp::as<int>(out[i]) == i + 1) {
            values++;
        }
    }
    INFO("killed " << killed << " daemons in "
                   << seconds_since(start) << " s");
    CHECK(killed > 0);
    CHECK(values + lost == total);
    // Each kill loses at most the one task its daemon was running.
    CHECK(lost <= killed);
    mh::status_info info = mh::status();
    CHECK(info.completed == static_cast<std::uint64_t>(values));
    CHECK(info.failed == static_cast<std::uint64_t>(lost));
    CHECK(info.completed + info.failed + info.cancelled ==
          static_cast<std::uint64_t>(total));
    CHECK(info.awaiting == 0);
    CHECK(info.executing == 0);
    return lost;
}

} // namespace

TEST_CASE("map survives killed and new daemons", "[host][r][net][slow]")
{
    host_session();
    daemons_guard guard;
    run_chaos(0);
}

TEST_CASE("map with retries loses no task to kills", "[host][r][net][slow]")
{
    host_session();
    daemons_guard guard;
    // Each task can outlive three daemons; a kill takes at most one.
    CHECK(run_chaos(3) == 0);
}
