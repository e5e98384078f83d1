// Payloads over 2 GiB each way: R long vectors serialized into one frame
// (payload_len is 64-bit), through the dispatcher and back. The test
// needs about 12 GB of free memory; with less it exits with code 77,
// which CTest reports as skipped.
#include "host/mirai.hpp"

#include "tests/host/host_fixture.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace mh = mirai::host;
using mirai::test::daemons_guard;
using mirai::test::host_session;

namespace {

// 300 million doubles: 2.4 GB, past the 2^31-byte limit of int lengths.
constexpr R_xlen_t large_length = 300000000;
constexpr double large_bytes = large_length * 8.0;
constexpr double required_available = 12e9;
constexpr int skip_exit_code = 77;

// A field of /proc/self/status or /proc/meminfo in bytes (given in kB),
// or 0 when it is missing.
double read_kb_field(const char* path, const std::string& field)
{
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, field.size() + 1, field + ":") == 0) {
            return std::atof(line.c_str() + field.size() + 1) * 1024;
        }
    }
    return 0;
}

void skip_without_memory()
{
    double available = read_kb_field("/proc/meminfo", "MemAvailable");
    if (available >= required_available) {
        return;
    }
    std::fprintf(stderr,
                 "skip large payload test: MemAvailable is %.1f GB, "
                 "expected at least %.1f GB\n",
                 available / 1e9, required_available / 1e9);
    std::fflush(stderr);
    std::_Exit(skip_exit_code);
}

double elapsed(std::chrono::steady_clock::time_point start)
{
    return mirai::test::seconds_since(start);
}

} // namespace

TEST_CASE("payloads over 2 GiB travel to a daemon and back",
          "[host][r][net][large]")
{
    skip_without_memory();
    host_session();
    daemons_guard guard;
    REQUIRE(mh::daemons(1) == 1);

    auto start = std::chrono::steady_clock::now();
    {
        Rcpp::NumericVector x(large_length);
        x[0] = 1.5;
        x[large_length / 2] = -2.25;
        x[large_length - 1] = 3.75;
        mh::handle sent = mh::mirai(
            "c(length(x), x[1], x[length(x) / 2 + 1], x[length(x)], "
            "sum(x[1:10]))",
            {{"x", x}});
        Rcpp::NumericVector summary = sent.get<Rcpp::NumericVector>();
        REQUIRE(summary.size() == 5);
        CHECK(summary[0] == static_cast<double>(large_length));
        CHECK(summary[1] == 1.5);
        CHECK(summary[2] == -2.25);
        CHECK(summary[3] == 3.75);
        CHECK(summary[4] == 1.5);
    }
    R_gc();
    double sent_s = elapsed(start);

    start = std::chrono::steady_clock::now();
    {
        mh::handle received = mh::mirai(
            "invisible(gc()); y <- numeric(n); y[1] <- 4.5; "
            "y[n] <- -6.25; y",
            {{"n", static_cast<double>(large_length)}});
        Rcpp::NumericVector y = received.get<Rcpp::NumericVector>();
        REQUIRE(Rf_xlength(y) == large_length);
        CHECK(y[0] == 4.5);
        CHECK(y[1] == 0);
        CHECK(y[large_length - 1] == -6.25);
    }
    R_gc();
    double received_s = elapsed(start);

    // Host copies: the R vector and its serialized frame going out, the
    // frame and the R vector coming back, never all four at once.
    double peak = read_kb_field("/proc/self/status", "VmHWM");
    REQUIRE(peak > 0);
    std::printf("large payloads: %.2f GB sent in %.1f s, received in "
                "%.1f s; host peak resident %.2f GB (%.2fx payload)\n",
                large_bytes / 1e9, sent_s, received_s, peak / 1e9,
                peak / large_bytes);
    std::fflush(stdout);
    CHECK(peak < 3 * large_bytes);
}
