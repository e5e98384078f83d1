// The frames a daemon exchanges with the dispatcher: hello, task and
// result, setup, and its answer to malformed frames.
#include "tests/worker/daemon_harness.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

using namespace mirai::test;

namespace {

// Send code as task id and return its result frame.
received_frame run_task(daemon_harness& harness, std::uint64_t id,
    const std::string& code, int timeout_ms = 10000)
{
    harness.send(DSP_FRAME_TASK, id, task_payload(code));
    return harness.receive(timeout_ms);
}

std::string r_string(SEXP object)
{
    return Rcpp::as<std::string>(object);
}

std::string call_r(const char* function, SEXP object)
{
    Rcpp::Function f(function);
    return r_string(f(object));
}

bool inherits(SEXP object, const char* cls)
{
    return Rf_inherits(object, cls);
}

} // namespace

TEST_CASE("daemon says hello with its own pid", "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn({"--url", harness.url()});

    received_frame hello = harness.receive(10000);
    CHECK(hello.header.type == DSP_FRAME_HELLO);
    CHECK(hello.header.task_id == 0);
    CHECK(hello.header.flags == 0);
    REQUIRE(hello.payload.size() == DSP_HELLO_SIZE);
    CHECK(dsp__get_u64(hello.payload.data()) == (std::uint64_t) pid);
    CHECK(dsp__get_u32(hello.payload.data() + 8) == DSP_MAX_BATCH);
    CHECK(dsp__get_u32(hello.payload.data() + 12) == 0);

    std::uint64_t peer_pid = 0;
    REQUIRE(nng_pipe_get_uint64(hello.pipe, NNG_OPT_IPC_PEER_PID,
        &peer_pid) == 0);
    CHECK(peer_pid == (std::uint64_t) pid);

    harness.close_socket();
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    CHECK(has_no_children());
}

TEST_CASE("daemon returns the value of a task", "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected();

    received_frame result = run_task(harness, 7, "100 + 42");
    CHECK(result.header.type == DSP_FRAME_RESULT);
    CHECK(result.header.task_id == 7);
    CHECK(result.header.flags == DSP_RESULT_VALUE);
    Rcpp::RObject value = unserialize_payload(result);
    REQUIRE(TYPEOF(value) == REALSXP);
    REQUIRE(Rf_length(value) == 1);
    CHECK(REAL(value)[0] == 142.0);

    SECTION("and the next task runs in the same process")
    {
        received_frame second = run_task(harness, 8, "Sys.getpid()");
        CHECK(second.header.task_id == 8);
        CHECK(Rcpp::as<int>(unserialize_payload(second)) == pid);
    }

    harness.send(DSP_FRAME_EXIT, 0, {});
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    CHECK(has_no_children());
}

TEST_CASE("daemon returns an R error with message and call",
    "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected();

    received_frame result = run_task(harness, 9,
        "check_input <- function(x) stop('bad input: ', x)\n"
        "check_input(3)");
    CHECK(result.header.type == DSP_FRAME_RESULT);
    CHECK(result.header.task_id == 9);
    CHECK(result.header.flags == DSP_RESULT_ERROR);
    Rcpp::RObject error = unserialize_payload(result);
    CHECK(inherits(error, "miraiError"));
    CHECK(call_r("conditionMessage", error) == "bad input: 3");
    Rcpp::Function condition_call("conditionCall");
    CHECK(Rcpp::as<std::string>(condition_call(error)) == "check_input(3)");

    // The daemon stays up after an error.
    received_frame next = run_task(harness, 10, "1L");
    CHECK(next.header.flags == DSP_RESULT_VALUE);
    CHECK(Rcpp::as<int>(unserialize_payload(next)) == 1);

    harness.close_socket();
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    CHECK(has_no_children());
}

TEST_CASE("daemon acknowledges a setup and keeps its globals",
    "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected();

    harness.send(DSP_FRAME_SETUP, 5, task_payload(
        "assign('shared_value', 41, envir = globalenv()); 'ready'"));
    received_frame ack = harness.receive(10000);
    CHECK(ack.header.type == DSP_FRAME_SETUP);
    CHECK(ack.header.task_id == 5);
    CHECK(ack.header.flags == DSP_RESULT_VALUE);
    CHECK(r_string(unserialize_payload(ack)) == "ready");

    received_frame result = run_task(harness, 6, "shared_value + 1");
    CHECK(result.header.type == DSP_FRAME_RESULT);
    CHECK(result.header.flags == DSP_RESULT_VALUE);
    CHECK(Rcpp::as<double>(unserialize_payload(result)) == 42.0);

    SECTION("and reports a failing setup as an error")
    {
        harness.send(DSP_FRAME_SETUP, 12, task_payload("stop('no setup')"));
        received_frame failed = harness.receive(10000);
        CHECK(failed.header.type == DSP_FRAME_SETUP);
        CHECK(failed.header.task_id == 12);
        CHECK(failed.header.flags == DSP_RESULT_ERROR);
        CHECK(call_r("conditionMessage", unserialize_payload(failed)) ==
            "no setup");
    }

    harness.close_socket();
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    CHECK(has_no_children());
}

TEST_CASE("daemon answers an undecodable task with an error",
    "[worker][r][net]")
{
    daemon_harness harness;
    pid_t pid = harness.spawn_connected();

    harness.send(DSP_FRAME_TASK, 3, {'n', 'o', 't', ' ', 'R'});
    received_frame result = harness.receive(10000);
    CHECK(result.header.task_id == 3);
    CHECK(result.header.flags == DSP_RESULT_ERROR);
    CHECK(inherits(unserialize_payload(result), "miraiError"));

    received_frame next = run_task(harness, 4, "2L");
    CHECK(Rcpp::as<int>(unserialize_payload(next)) == 2);

    harness.close_socket();
    CHECK(harness.wait_end(pid, 2000).exit_code == 0);
    CHECK(has_no_children());
}

// A malformed frame means the peer does not speak this protocol, so the
// daemon logs it and exits with status 70; it never crashes.
TEST_CASE("daemon exits with status 70 on a malformed frame",
    "[worker][r][net]")
{
    std::vector<unsigned char> frame(DSP_HEADER_SIZE);
    dsp_wire_encode(frame.data(), DSP_FRAME_TASK, 1, 0, 0);
    std::string expected;

    SECTION("short frame")
    {
        frame.resize(5);
        expected = "frame shorter than its header";
    }
    SECTION("bad magic number")
    {
        frame[0] ^= 0xFF;
        expected = "bad magic number";
    }
    SECTION("other protocol version")
    {
        dsp__put_u16(frame.data() + 4, DSP_WIRE_VERSION + 1);
        expected = "unsupported protocol version";
    }
    SECTION("unknown frame type")
    {
        dsp__put_u16(frame.data() + 6, 99);
        expected = "unknown frame type";
    }
    SECTION("payload length beyond the frame")
    {
        dsp__put_u64(frame.data() + 24, 1000);
        expected = "payload length does not match the frame";
    }
    SECTION("frame type only a daemon sends")
    {
        dsp__put_u16(frame.data() + 6, DSP_FRAME_RESULT);
        expected = "unexpected frame type 2 for a daemon";
    }

    daemon_harness harness;
    pid_t pid = harness.spawn_connected();
    harness.send_raw(frame);

    process_end end = harness.wait_end(pid, 2000);
    CHECK_FALSE(end.is_timed_out);
    CHECK(end.exit_code == 70);
    std::string errors = harness.errors(pid);
    CHECK_THAT(errors, Catch::Contains("WORKER-FRAME-INVALID"));
    CHECK_THAT(errors, Catch::Contains("receive frame from '" +
        harness.url() + "': " + expected));
    CHECK(has_no_children());
}
