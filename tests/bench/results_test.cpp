#include "bench/results.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

using mirai::bench::compute_ratios;
using mirai::bench::compute_targets;
using mirai::bench::derive_rates;
using mirai::bench::print_ratios;
using mirai::bench::print_table;
using mirai::bench::results;
using mirai::bench::write_json;

namespace {

// The value of the named ratio, or -1 when it is missing.
double ratio_value(const results& r, const std::string& name)
{
    for (const auto& q : compute_ratios(r)) {
        if (q.name == name) {
            return q.value;
        }
    }
    return -1;
}

std::string read_file(const std::string& path)
{
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

} // namespace

TEST_CASE("parse_lines reads values and skips", "[bench]")
{
    results r;
    r.parse_lines("psock.latency_median 0.0001\n"
                  "not a number here\n"
                  "skip mirai the R package mirai is not installed\n"
                  "future.idle_rss_mb 74.5\n",
                  "");
    REQUIRE(r.get("psock.latency_median") == 0.0001);
    REQUIRE(r.get("future.idle_rss_mb") == 74.5);
    REQUIRE_FALSE(r.get("not"));
    REQUIRE(r.notes().size() == 1);
    REQUIRE(r.notes()[0] ==
            "skipped mirai: the R package mirai is not installed");
}

TEST_CASE("parse_lines prefixes keys", "[bench]")
{
    results r;
    r.parse_lines("round_trip_median 2.5e-05\n", "nng.");
    REQUIRE(r.get("nng.round_trip_median") == 2.5e-05);
}

TEST_CASE("ratios divide ours by theirs", "[bench]")
{
    results r;
    r.set("mirai_cpp.map_per_task", 30e-6);
    r.set("psock_lb.per_task", 100e-6);
    r.set("mirai_cpp.latency_median", 60e-6);
    r.set("nng.round_trip_median", 40e-6);
    REQUIRE(ratio_value(r, "throughput_vs_psock_lb") == Approx(0.3));
    REQUIRE(ratio_value(r, "latency_vs_nng_floor") == Approx(1.5));
    // No future measurements, so no ratio against future.
    REQUIRE(ratio_value(r, "latency_vs_future") == -1);
}

TEST_CASE("targets compare against their bounds", "[bench]")
{
    results r;
    r.set("mirai_cpp.map_per_task", 31e-6);
    r.set("psock_lb.per_task", 100e-6);
    r.set("mirai_cpp.idle_rss_mb", 60);
    r.set("mirai_cpp.payload_send_seconds", 0.1);
    derive_rates(r, 1e8);
    REQUIRE(r.get("mirai_cpp.payload_send_mb_per_s") == Approx(1000));

    auto targets = compute_targets(r);
    REQUIRE(targets.size() == 3);
    for (const auto& t : targets) {
        CAPTURE(t.name);
        if (t.name == "throughput_vs_psock_lb") {
            REQUIRE_FALSE(t.met());
        } else {
            REQUIRE(t.met()); // 60 MB <= 60 and 1000 MB/s >= 1000
        }
    }
}

TEST_CASE("report prints RATIO and TARGET lines", "[bench]")
{
    results r;
    r.set("mirai_cpp.latency_median", 60e-6);
    r.set("nng.round_trip_median", 40e-6);
    std::ostringstream out;
    print_ratios(out, compute_ratios(r), compute_targets(r));
    REQUIRE(out.str() == "RATIO latency_vs_nng_floor 1.500\n"
                         "TARGET latency_vs_nng_floor 1.500 <= 1.5 met\n");

    std::ostringstream table;
    print_table(table, r);
    REQUIRE(table.str().find("latency, median (us)") != std::string::npos);
    REQUIRE(table.str().find("60.0") != std::string::npos);
}

TEST_CASE("write_json escapes notes and creates the directory", "[bench]")
{
    char dir[] = "/tmp/mirai-bench-test-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    std::string path = std::string(dir) + "/out/results.json";

    results r;
    r.set("mirai_cpp.latency_median", 60e-6);
    r.add_note("a \"quoted\" note\\");
    write_json(path, r, compute_ratios(r), compute_targets(r));
    std::string json = read_file(path);
    REQUIRE(json.find("\"mirai_cpp.latency_median\": 6e-05") !=
            std::string::npos);
    REQUIRE(json.find("\"a \\\"quoted\\\" note\\\\\"") != std::string::npos);

    std::remove(path.c_str());
    rmdir((std::string(dir) + "/out").c_str());
    rmdir(dir);
}
