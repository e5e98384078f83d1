#include "sync/evaluator.hpp"

#include "sync/conditions.hpp"
#include "sync/serialize.hpp"
#include "tests/support/r_session.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using mirai::sync::evaluate;
using mirai::sync::evaluate_payload;
using mirai::sync::result_kind;
using mirai::test::r;
using mirai::test::r_session;

namespace {

std::string as_string(SEXP object)
{
    return Rcpp::as<std::string>(object);
}

std::vector<std::string> trace_of(SEXP error)
{
    Rcpp::List trace(Rf_getAttrib(error, Rf_install("stack.trace")));
    std::vector<std::string> out;
    for (R_xlen_t i = 0; i < trace.size(); i++)
        out.push_back(Rcpp::as<std::string>(trace[i]));
    return out;
}

bool contains(const std::vector<std::string>& items, const std::string& s)
{
    for (const auto& item : items)
        if (item == s)
            return true;
    return false;
}

} // namespace

TEST_CASE("evaluate returns the value of a call", "[sync][r]")
{
    r_session();
    auto result = evaluate(r("quote(100 + 42)"), r("list()"));
    REQUIRE(result.kind == result_kind::value);
    REQUIRE(Rcpp::as<double>(result.object) == 142);
}

TEST_CASE("evaluate accepts symbols and constants", "[sync][r]")
{
    r_session();
    auto symbol = evaluate(r("quote(a)"), r("list(a = 7L)"));
    REQUIRE(symbol.kind == result_kind::value);
    REQUIRE(Rcpp::as<int>(symbol.object) == 7);

    auto constant = evaluate(r("'text'"), R_NilValue);
    REQUIRE(constant.kind == result_kind::value);
    REQUIRE(as_string(constant.object) == "text");
}

TEST_CASE("evaluate sees data and globals", "[sync][r]")
{
    r_session();
    r("global_offset <- 1000");
    auto result = evaluate(r("quote(a + b + global_offset)"),
                           r("list(a = 1, b = 2)"));
    REQUIRE(result.kind == result_kind::value);
    REQUIRE(Rcpp::as<double>(result.object) == 1003);
}

TEST_CASE("evaluate keeps assignments out of globalenv", "[sync][r]")
{
    r_session();
    r("leak_check <- 'global'");
    auto result = evaluate(r("quote({ leak_check <- 'task'; fresh <- 1;"
                             " leak_check })"),
                           r("list()"));
    REQUIRE(result.kind == result_kind::value);
    REQUIRE(as_string(result.object) == "task");
    REQUIRE(as_string(r("leak_check")) == "global");
    REQUIRE(Rcpp::as<bool>(r("exists('fresh', envir = globalenv())")) ==
            false);
}

TEST_CASE("evaluate runs expression vectors in order", "[sync][r]")
{
    r_session();
    auto result = evaluate(r("parse(text = 'v <- a; v <- v * 2; v + 1')"),
                           r("list(a = 20)"));
    REQUIRE(result.kind == result_kind::value);
    REQUIRE(Rcpp::as<double>(result.object) == 41);
}

TEST_CASE("evaluate catches an error with call and classes", "[sync][r]")
{
    r_session();
    auto result = evaluate(
        r("quote({ f <- function() stop('boom'); f() })"), r("list()"));
    REQUIRE(result.kind == result_kind::error);
    SEXP e = result.object;
    REQUIRE(Rf_inherits(e, "miraiError"));
    REQUIRE(as_string(e) == "Error in f(): boom");
    REQUIRE(as_string(Rf_getAttrib(e, Rf_install("message"))) == "boom");
    REQUIRE(as_string(Rf_getAttrib(e, Rf_install("call"))) == "f()");
    auto classes = Rcpp::as<std::vector<std::string>>(
        Rf_getAttrib(e, Rf_install("condition.class")));
    REQUIRE(classes ==
            std::vector<std::string>{"simpleError", "error", "condition"});
}

TEST_CASE("evaluate records the task's call stack", "[sync][r]")
{
    r_session();
    auto result = evaluate(
        r("quote({ f <- function() stop('boom'); g <- function() f(); "
          "g() })"),
        r("list()"));
    REQUIRE(result.kind == result_kind::error);
    auto trace = trace_of(result.object);
    REQUIRE(trace == std::vector<std::string>{"stop(\"boom\")", "f()",
                                              "g()"});
}

TEST_CASE("evaluate omits the call of a top-level error", "[sync][r]")
{
    r_session();
    auto result = evaluate(r("quote(stop('top'))"), r("list()"));
    REQUIRE(result.kind == result_kind::error);
    REQUIRE(as_string(result.object) == "Error: top");
    REQUIRE(Rf_getAttrib(result.object, Rf_install("call")) == R_NilValue);
    REQUIRE(trace_of(result.object) ==
            std::vector<std::string>{"stop(\"top\")"});
}

TEST_CASE("evaluate reports a missing object", "[sync][r]")
{
    r_session();
    auto result = evaluate(r("quote(no_such_object_here)"), r("list()"));
    REQUIRE(result.kind == result_kind::error);
    REQUIRE(as_string(result.object) ==
            "Error: object 'no_such_object_here' not found");
    REQUIRE(trace_of(result.object).empty());
}

TEST_CASE("evaluate keeps a custom condition class", "[sync][r]")
{
    r_session();
    auto result = evaluate(
        r("quote({ h <- function() stop(structure(class = c('myError', "
          "'error', 'condition'), list(message = 'custom', call = "
          "sys.call(), detail = 42))); h() })"),
        r("list()"));
    REQUIRE(result.kind == result_kind::error);
    SEXP e = result.object;
    auto classes = Rcpp::as<std::vector<std::string>>(
        Rf_getAttrib(e, Rf_install("condition.class")));
    REQUIRE(classes ==
            std::vector<std::string>{"myError", "error", "condition"});
    REQUIRE(as_string(e) == "Error in h(): custom");
    REQUIRE(Rcpp::as<double>(Rf_getAttrib(e, Rf_install("detail"))) == 42);
    REQUIRE(contains(trace_of(e), "h()"));
}

TEST_CASE("evaluate catches an interrupt condition", "[sync][r]")
{
    r_session();
    auto result = evaluate(
        r("quote(signalCondition(structure(class = c('interrupt', "
          "'condition'), list())))"),
        r("list()"));
    REQUIRE(result.kind == result_kind::interrupt);
    REQUIRE(Rf_inherits(result.object, "miraiInterrupt"));
    REQUIRE(as_string(result.object).empty());
}

TEST_CASE("evaluate stops a busy task on a pending interrupt", "[sync][r]")
{
    r_session();
    std::atomic<bool> started{false};
    std::thread interrupter([&started] {
        while (!started.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        R_interrupts_pending = 1;
    });
    started = true;
    // Without the interrupt the loop would run for many seconds and end
    // with a value, so the test fails instead of hanging.
    auto result = evaluate(r("quote({ i <- 0; while (i < 1e9) i <- i + 1;"
                             " i })"),
                           r("list()"));
    interrupter.join();
    REQUIRE(result.kind == result_kind::interrupt);
    REQUIRE(R_interrupts_pending == 0);
}

TEST_CASE("evaluate clears a stale interrupt first", "[sync][r]")
{
    r_session();
    R_interrupts_pending = 1;
    auto result = evaluate(r("quote({ for (i in 1:200000) NULL; 142 })"),
                           r("list()"));
    REQUIRE(result.kind == result_kind::value);
    REQUIRE(Rcpp::as<double>(result.object) == 142);
}

TEST_CASE("evaluate survives an abort restart", "[sync][r]")
{
    r_session();
    auto result = evaluate(r("quote(invokeRestart('abort'))"), r("list()"));
    REQUIRE(result.kind == result_kind::error);
    REQUIRE(as_string(result.object) ==
            "Error: evaluate task: aborted by a jump to the top level");

    auto next = evaluate(r("quote(1 + 1)"), r("list()"));
    REQUIRE(next.kind == result_kind::value);
}

TEST_CASE("evaluate catches deep recursion", "[sync][r]")
{
    r_session();
    auto result = evaluate(r("quote({ f <- function(n) f(n + 1); f(0) })"),
                           r("list()"));
    REQUIRE(result.kind == result_kind::error);
    std::string message =
        as_string(Rf_getAttrib(result.object, Rf_install("message")));
    CAPTURE(message);
    REQUIRE((message.find("nested too deeply") != std::string::npos ||
             message.find("C stack") != std::string::npos));
    REQUIRE(contains(trace_of(result.object), "f(0)"));
}

TEST_CASE("evaluate rejects data without names", "[sync][r]")
{
    r_session();
    auto result = evaluate(r("quote(1)"), r("list(1, 2)"));
    REQUIRE(result.kind == result_kind::error);
    REQUIRE(as_string(result.object) ==
            "Error: evaluate task: data: expected a named list, got a list "
            "without names");
}

TEST_CASE("evaluate rejects calls from other threads", "[sync][r]")
{
    r_session();
    Rcpp::RObject expr = r("quote(1 + 1)");
    Rcpp::RObject data = r("list()");
    REQUIRE(evaluate(expr, data).kind == result_kind::value);

    std::string message;
    std::thread other([&] {
        try {
            evaluate(expr, data);
        } catch (const std::logic_error& e) {
            message = e.what();
        }
    });
    other.join();
    REQUIRE(message.rfind("evaluate task: called from thread ", 0) == 0);
}

TEST_CASE("evaluate leaves warnings to R", "[sync][r]")
{
    r_session();
    auto result = evaluate(r("quote({ warning('careful'); 5 })"),
                           r("list()"));
    REQUIRE(result.kind == result_kind::value);
    REQUIRE(Rcpp::as<double>(result.object) == 5);
}

TEST_CASE("evaluate returns an error object as a value", "[sync][r]")
{
    r_session();
    auto failed = evaluate(r("quote(stop('inner'))"), r("list()"));
    REQUIRE(failed.kind == result_kind::error);

    Rcpp::List data = Rcpp::List::create(Rcpp::Named("e") = failed.object);
    auto result = evaluate(r("quote(e)"), data);
    REQUIRE(result.kind == result_kind::value);
    REQUIRE(as_string(result.object) == "Error: inner");
}

TEST_CASE("make_task builds list(expr, data)", "[sync][r]")
{
    r_session();
    Rcpp::List task(
        mirai::sync::make_task(r("quote(a + 1)"), r("list(a = 1)")));
    REQUIRE(Rcpp::as<std::vector<std::string>>(task.names()) ==
            std::vector<std::string>{"expr", "data"});
    REQUIRE(TYPEOF(task["expr"]) == LANGSXP);
    REQUIRE(Rcpp::as<double>(Rcpp::List(task["data"])["a"]) == 1);
}

TEST_CASE("evaluate_payload runs a serialized task", "[sync][r]")
{
    r_session();
    Rcpp::RObject task =
        mirai::sync::make_task(r("quote(x * y)"), r("list(x = 6, y = 7)"));
    std::vector<char> bytes(mirai::sync::serialized_size(task));
    mirai::sync::serialize_to(task, bytes.data(), bytes.size());

    auto result = evaluate_payload(bytes.data(), bytes.size());
    REQUIRE(result.kind == result_kind::value);
    REQUIRE(Rcpp::as<double>(result.object) == 42);
}

TEST_CASE("evaluate_payload names payload problems", "[sync][r]")
{
    r_session();
    auto payload_of = [](SEXP object) {
        std::vector<char> bytes(mirai::sync::serialized_size(object));
        mirai::sync::serialize_to(object, bytes.data(), bytes.size());
        return bytes;
    };
    auto message_of = [](const mirai::sync::evaluation& result) {
        REQUIRE(result.kind == result_kind::error);
        return Rcpp::as<std::string>(
            Rf_getAttrib(result.object, Rf_install("message")));
    };

    SECTION("not a list")
    {
        auto bytes = payload_of(r("1:3"));
        REQUIRE(message_of(evaluate_payload(bytes.data(), bytes.size())) ==
                "decode task: expected list(expr = , data = ), got type "
                "'integer'");
    }
    SECTION("a list without expr")
    {
        auto bytes = payload_of(r("list(a = 1, data = list())"));
        REQUIRE(message_of(evaluate_payload(bytes.data(), bytes.size())) ==
                "decode task: expected list(expr = , data = ), got a list "
                "of 2 elements without both names");
    }
    SECTION("data that is not a list")
    {
        auto bytes = payload_of(r("list(expr = 1, data = 'x')"));
        REQUIRE(message_of(evaluate_payload(bytes.data(), bytes.size())) ==
                "decode task: data: expected a named list, got type "
                "'character'");
    }
    SECTION("truncated bytes")
    {
        auto bytes = payload_of(r("list(expr = 1, data = list())"));
        std::string message =
            message_of(evaluate_payload(bytes.data(), bytes.size() / 2));
        REQUIRE(message.rfind("decode task: unserialize payload: "
                              "truncated payload",
                              0) == 0);
    }
}

TEST_CASE("evaluate ignores a task's own abort restart", "[sync][r]")
{
    r_session();
    // The task's error must not leave through the task's own restart.
    auto result = evaluate(
        r("quote(withRestarts(stop('inner failure'), "
          "abort = function() 42))"),
        r("list()"));
    REQUIRE(result.kind == result_kind::error);
    REQUIRE(as_string(Rf_getAttrib(result.object, Rf_install("message"))) ==
            "inner failure");

    auto next = evaluate(r("quote(invokeRestart('abort'))"), r("list()"));
    REQUIRE(next.kind == result_kind::error);
    REQUIRE(as_string(next.object) ==
            "Error: evaluate task: aborted by a jump to the top level");
}
