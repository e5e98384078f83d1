// Volume: many tasks over several daemons, each resolved exactly once.
#include "dispatcher/dispatcher.h"

#include "tests/dispatcher/dispatcher_fixture.hpp"

#include <catch2/catch.hpp>

using namespace mirai::test;

TEST_CASE("ten thousand tasks over four daemons resolve once each",
    "[dispatcher][net][slow]")
{
    dispatcher_fixture f;
    std::vector<std::unique_ptr<fake_daemon>> daemons;
    for (uint64_t pid = 1; pid <= 4; pid++) {
        daemons.push_back(std::make_unique<fake_daemon>(f.url(), pid));
    }
    f.wait_connections(4);

    const int n = 10000;
    std::vector<uint64_t> ids;
    ids.reserve(n);
    for (int i = 0; i < n; i++) {
        ids.push_back(f.submit(std::to_string(i)));
    }
    REQUIRE(f.sink.wait_count(n, 50s));

    auto all = f.sink.all();
    REQUIRE(all.size() == static_cast<size_t>(n));
    std::vector<int> seen(n + 1, 0);
    for (const completion& c : all) {
        REQUIRE(c.id >= 1);
        REQUIRE(c.id <= static_cast<uint64_t>(n));
        seen[c.id]++;
        REQUIRE(c.status == DSP_OK);
        REQUIRE(c.payload == std::to_string(c.id - 1));
    }
    for (int i = 1; i <= n; i++) {
        REQUIRE(seen[i] == 1);
    }
    size_t total = 0;
    for (auto& daemon : daemons) {
        CHECK(daemon->count(DSP_FRAME_TASK) > 0);
        total += daemon->count(DSP_FRAME_TASK);
    }
    CHECK(total == static_cast<size_t>(n));
    dsp_stats s = f.stats();
    CHECK(s.completed == static_cast<uint64_t>(n));
    CHECK(s.awaiting == 0);
    CHECK(s.executing == 0);
}
