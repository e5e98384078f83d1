// What start-up leaves in a daemon's R and in its resident set: R's
// default packages, the collection trigger for vectors, and the memory
// an idle daemon keeps.
#include "tests/worker/daemon_harness.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

using namespace mirai::test;

namespace {

Rcpp::RObject run_value(daemon_harness& harness, std::uint64_t id,
    const std::string& code)
{
    harness.send(DSP_FRAME_TASK, id, task_payload(code));
    received_frame result = harness.receive(10000);
    REQUIRE(result.header.type == DSP_FRAME_RESULT);
    REQUIRE(result.header.task_id == id);
    REQUIRE(result.header.flags == DSP_RESULT_VALUE);
    return unserialize_payload(result);
}

// R's trigger for collecting vectors, in 8-byte cells, as gc() reports it.
// A second task reads it, because the daemon resets it only after
// replying to its first frame.
double vector_trigger_cells(daemon_harness& harness, std::uint64_t id)
{
    run_value(harness, id, "NULL");
    return Rcpp::as<double>(run_value(harness, id + 1, "gc()[2, 3]"));
}

// VmRSS of pid in kB, from /proc; -1 when the line is missing.
long resident_kb(pid_t pid)
{
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::stol(line.substr(6));
        }
    }
    return -1;
}

// Set an environment variable for the daemons spawned in one scope.
class scoped_env {
public:
    scoped_env(const char* name, const char* value) : name_(name)
    {
        setenv(name, value, 1);
    }
    ~scoped_env() { unsetenv(name_); }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    const char* name_;
};

} // namespace

TEST_CASE("daemon attaches R's default packages", "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected();

    auto names = Rcpp::as<std::vector<std::string>>(run_value(harness, 1,
        "grep('^package:(stats|graphics|grDevices|utils|datasets|methods)$',"
        " search(), value = TRUE)"));
    std::vector<std::string> expected = {"package:stats", "package:graphics",
        "package:grDevices", "package:utils", "package:datasets",
        "package:methods"};
    CHECK(names == expected);

    // One exported function of each, called without its namespace.
    CHECK(Rcpp::as<double>(run_value(harness, 2, "sd(c(1, 2, 3))")) == 1.0);
    CHECK(Rcpp::as<int>(run_value(harness, 3, "nrow(mtcars)")) == 32);
    CHECK(Rcpp::as<int>(run_value(harness, 4, "length(head(1:10, 3))")) == 3);
    CHECK(Rcpp::as<bool>(run_value(harness, 5, "is(1, 'numeric')")));
    CHECK(Rcpp::as<std::string>(run_value(harness, 6,
        "class(rgb(0, 0, 0))")) == "character");
    CHECK(Rcpp::as<bool>(run_value(harness, 7,
        "is.function(plot.default)")));

    harness.send(DSP_FRAME_EXIT, 0, {});
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    CHECK(has_no_children());
}

TEST_CASE("daemon collects vectors at R's own trigger", "[worker][r][net]")
{
    SECTION("64 MB by default")
    {
        unsetenv("R_VSIZE");
        daemon_harness harness;
        pid_t pid = harness.spawn_connected();
        // 64 MB in 8-byte cells. RInside alone sets 8 times as many.
        CHECK(vector_trigger_cells(harness, 1) == 8388608.0);
        harness.send(DSP_FRAME_EXIT, 0, {});
        CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    }
    SECTION("R_VSIZE from the environment")
    {
        scoped_env vsize("R_VSIZE", "128M");
        daemon_harness harness;
        pid_t pid = harness.spawn_connected();
        CHECK(vector_trigger_cells(harness, 1) == 16777216.0);
        harness.send(DSP_FRAME_EXIT, 0, {});
        CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    }
    CHECK(has_no_children());
}

// The bound is the project's target for an idle daemon on its Debian 12
// build machine (R 4.2.2, RInside 0.2.18). Other systems load other
// libraries, so the test is tagged [memory] to be left out there.
TEST_CASE("idle daemon stays within 60 MB resident", "[worker][r][net]"
    "[memory]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected();

    CHECK(Rf_isNull(run_value(harness, 1, "NULL")));
    // The daemon releases its start-up garbage once idle after a task;
    // a loaded machine may take a while to get there.
    long kb = resident_kb(pid);
    long long start = now_ms();
    while (kb > 60 * 1024 && elapsed_ms(start) < 5000) {
        usleep(50 * 1000);
        kb = resident_kb(pid);
    }
    INFO("VmRSS of daemon " << pid << ": " << kb << " kB");
    CHECK(kb > 0);
    CHECK(kb <= 60 * 1024);

    harness.send(DSP_FRAME_EXIT, 0, {});
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    CHECK(has_no_children());
}
