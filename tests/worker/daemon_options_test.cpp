// The mirai-daemon command line: help, option errors and the dial
// time-out, checked on the real executable.
#include "tests/worker/daemon_harness.hpp"

#include <catch2/catch.hpp>

using namespace mirai::test;

TEST_CASE("daemon prints help and exits 0", "[worker][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn({"--help"});

    process_end end = harness.wait_end(pid, 5000);
    CHECK_FALSE(end.is_timed_out);
    CHECK(end.exit_code == 0);
    std::string help = harness.output(pid);
    CHECK_THAT(help, Catch::Contains("--url URL"));
    CHECK_THAT(help, Catch::Contains("--connect-timeout MS"));
    CHECK_THAT(help, Catch::Contains("--quiet"));
    CHECK_THAT(help, Catch::Contains("--verbose"));
    CHECK_THAT(help, Catch::Contains("--autoexit MODE"));
    CHECK_THAT(help, Catch::Contains("--cleanup BOOL"));
    CHECK_THAT(help, Catch::Contains("--idletime MS"));
    CHECK_THAT(help, Catch::Contains("--walltime MS"));
    CHECK_THAT(help, Catch::Contains("--maxtasks N"));
    CHECK_THAT(help, Catch::Contains("1 idletime,\n2 walltime, 3 maxtasks, "
        "64 invalid command line, 70"));
    CHECK(harness.errors(pid).empty());
    CHECK(has_no_children());
}

TEST_CASE("daemon prints its version and exits 0", "[worker][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn({"--version"});

    process_end end = harness.wait_end(pid, 5000);
    CHECK(end.exit_code == 0);
    CHECK_THAT(harness.output(pid), Catch::StartsWith("mirai-daemon "));
    CHECK_THAT(harness.output(pid), Catch::Contains("wire protocol 1"));
    CHECK(has_no_children());
}

TEST_CASE("daemon rejects a bad command line with status 64",
    "[worker][net]")
{
    struct bad_case {
        std::vector<std::string> args;
        std::string message;
    };
    const std::vector<bad_case> cases = {
        {{"--bogus", "ipc:///unused"}, "unknown option '--bogus'"},
        {{"--url"}, "option '--url': missing value, expected '--url URL'"},
        {{}, "missing the dispatcher URL, expected '--url URL'"},
        {{"--connect-timeout", "soon", "ipc:///unused"},
            "option '--connect-timeout': expected a whole number of "
            "milliseconds"},
        {{"--connect-timeout=-5", "ipc:///unused"},
            "got '-5'"},
        {{"--quiet=yes", "ipc:///unused"},
            "option '--quiet': takes no value, got 'yes'"},
        {{"--quiet", "--verbose", "ipc:///unused"},
            "option '--verbose': conflicts with"},
        {{"ipc:///a", "ipc:///b"}, "the URL is already set to 'ipc:///a'"},
        {{"--autoexit", "maybe", "ipc:///unused"},
            "option '--autoexit': expected 'true', 'finish' or 'false', "
            "got 'maybe'"},
        {{"--cleanup=yes", "ipc:///unused"},
            "option '--cleanup': expected 'true' or 'false', got 'yes'"},
        {{"--idletime", "1.5", "ipc:///unused"},
            "option '--idletime': expected a whole number of milliseconds"},
        {{"--walltime=-1", "ipc:///unused"},
            "option '--walltime': expected a whole number of milliseconds"},
        {{"--maxtasks", "lots", "ipc:///unused"},
            "option '--maxtasks': expected a whole number from 0 to"},
        {{"ipc:///unused", "--maxtasks"},
            "option '--maxtasks': missing value, expected '--maxtasks N'"},
    };

    daemon_harness harness;
    for (const bad_case& c : cases) {
        pid_t pid = harness.spawn(c.args);
        process_end end = harness.wait_end(pid, 5000);
        INFO("expected message: " << c.message);
        CHECK_FALSE(end.is_timed_out);
        CHECK(end.exit_code == 64);
        std::string errors = harness.errors(pid);
        CHECK_THAT(errors, Catch::StartsWith("mirai-daemon: "));
        CHECK_THAT(errors, Catch::Contains(c.message));
        CHECK_THAT(errors, Catch::Contains("Try 'mirai-daemon --help'"));
    }
    CHECK(has_no_children());
}

TEST_CASE("daemon gives up dialing after its connect timeout",
    "[worker][net]")
{
    daemon_harness harness;
    std::string url = "ipc://" + harness.dir() + "/nobody.sock";

    long long start = now_ms();
    pid_t pid = harness.spawn({"--connect-timeout", "500", url});
    process_end end = harness.wait_end(pid, 5000);
    long long took = elapsed_ms(start);

    CHECK_FALSE(end.is_timed_out);
    CHECK(end.exit_code == 70);
    CHECK(took >= 500);
    CHECK(took < 2000);
    std::string errors = harness.errors(pid);
    CHECK_THAT(errors, Catch::Contains("WORKER-CONNECT-FAILED"));
    CHECK_THAT(errors, Catch::Contains("connect to '" + url +
        "': timed out after 500 ms: Connection refused"));
    CHECK(has_no_children());
}

TEST_CASE("daemon rejects an unsupported URL scheme at once",
    "[worker][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn({"--url", "bogus://127.0.0.1:1"});

    process_end end = harness.wait_end(pid, 5000);
    CHECK(end.exit_code == 70);
    CHECK_THAT(harness.errors(pid),
        Catch::Contains("connect to 'bogus://127.0.0.1:1': Not supported"));
    CHECK(has_no_children());
}
