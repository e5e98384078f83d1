#include "sync/conditions.hpp"

#include "sync/evaluator.hpp"
#include "tests/support/r_session.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using mirai::sync::evaluate;
using mirai::sync::install_r_support;
using mirai::test::r;
using mirai::test::r_session;

namespace {

// The value of code evaluated in a child of the global environment that
// binds x to object.
Rcpp::RObject r_with(SEXP object, const std::string& code)
{
    Rcpp::Environment env = Rcpp::Environment::global_env().new_child(true);
    env.assign("x", object);
    Rcpp::Function eval_fn("eval");
    Rcpp::Function parse_fn("parse");
    return eval_fn(parse_fn(Rcpp::Named("text") = code), env);
}

std::string text_with(SEXP object, const std::string& code)
{
    return Rcpp::as<std::string>(r_with(object, code));
}

// The miraiError of a task that calls f(), which stops with "boom".
Rcpp::RObject boom_error()
{
    auto result = evaluate(
        r("quote({ f <- function() stop('boom'); f() })"), r("list()"));
    REQUIRE(result.kind == mirai::sync::result_kind::error);
    return result.object;
}

} // namespace

TEST_CASE("install_r_support attaches mirai.cpp once", "[sync][r]")
{
    r_session();
    install_r_support();
    install_r_support();
    REQUIRE(Rcpp::as<int>(r("sum(search() == 'mirai.cpp')")) == 1);
    REQUIRE(Rcpp::as<bool>(r("exists('print.miraiError', where = "
                             "'mirai.cpp', inherits = FALSE)")));

    // A detached entry comes back on the next call.
    r("detach('mirai.cpp', character.only = TRUE)");
    install_r_support();
    REQUIRE(Rcpp::as<int>(r("sum(search() == 'mirai.cpp')")) == 1);
}

TEST_CASE("miraiError prints like mirai", "[sync][r]")
{
    r_session();
    Rcpp::RObject e = boom_error();
    REQUIRE(text_with(e, "capture.output(print(x))") ==
            "'miraiError' chr Error in f(): boom");
    // Auto-printing dispatches the same way from any environment.
    REQUIRE(text_with(e, "capture.output(x)") ==
            "'miraiError' chr Error in f(): boom");
}

TEST_CASE("miraiError answers conditionMessage, conditionCall and $",
          "[sync][r]")
{
    r_session();
    Rcpp::RObject e = boom_error();
    REQUIRE(text_with(e, "conditionMessage(x)") == "boom");
    REQUIRE(text_with(e, "conditionCall(x)") == "f()");
    REQUIRE(text_with(e, "x$message") == "boom");
    REQUIRE(text_with(e, "x$call") == "f()");
    REQUIRE(text_with(e, "paste(x$condition.class, collapse = ' ')") ==
            "simpleError error condition");
    REQUIRE(text_with(e, "x$stack.trace[[2]]") == "f()");
    REQUIRE(Rcpp::as<bool>(r_with(e, "is.null(x$nothing)")));
    REQUIRE(text_with(e, "paste(class(x), collapse = ' ')") ==
            "miraiError errorValue try-error");
    REQUIRE(Rcpp::as<bool>(r_with(e, "inherits(x, 'try-error')")));
}

TEST_CASE("make_error builds a miraiError without a call", "[sync][r]")
{
    r_session();
    Rcpp::RObject e = mirai::sync::make_error("decode task: bad input");
    REQUIRE(mirai::sync::is_error_value(e));
    REQUIRE(Rcpp::as<std::string>(e) == "Error: decode task: bad input");
    REQUIRE(text_with(e, "conditionMessage(x)") == "decode task: bad input");
    REQUIRE(Rcpp::as<bool>(r_with(e, "is.null(conditionCall(x))")));
    REQUIRE(Rcpp::as<int>(r_with(e, "length(x$stack.trace)")) == 0);
    REQUIRE(text_with(e, "capture.output(print(x))") ==
            "'miraiError' chr Error: decode task: bad input");
}

TEST_CASE("miraiInterrupt prints like mirai", "[sync][r]")
{
    r_session();
    Rcpp::RObject i = mirai::sync::make_interrupt();
    REQUIRE(mirai::sync::is_error_value(i));
    REQUIRE(text_with(i, "paste(class(x), collapse = ' ')") ==
            "miraiInterrupt errorValue try-error");
    REQUIRE(text_with(i, "capture.output(print(x))") ==
            "'miraiInterrupt' chr \"\"");
}

TEST_CASE("errorValue prints its code and NNG text", "[sync][r]")
{
    r_session();
    struct case_t {
        int code;
        const char* printed;
    };
    const case_t cases[] = {
        {5, "'errorValue' int 5 | Timed out"},
        {19, "'errorValue' int 19 | Connection reset"},
        {20, "'errorValue' int 20 | Operation canceled"},
        {7, "'errorValue' int 7 | Object closed"},
        {1000, "'errorValue' int 1000 | Internal error detected"},
        {77, "'errorValue' int 77 | Unknown error #77"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.code);
        Rcpp::RObject value = mirai::sync::make_error_value(c.code);
        REQUIRE(mirai::sync::is_error_value(value));
        REQUIRE(Rcpp::as<int>(value) == c.code);
        REQUIRE(text_with(value, "capture.output(print(x))") == c.printed);
        REQUIRE(text_with(value, "paste(class(x), collapse = ' ')") ==
                "errorValue try-error");
    }
}

TEST_CASE("is_error_value rejects ordinary objects", "[sync][r]")
{
    r_session();
    REQUIRE_FALSE(mirai::sync::is_error_value(r("1L")));
    REQUIRE_FALSE(mirai::sync::is_error_value(r("try(stop('x'), TRUE)")));
    REQUIRE_FALSE(mirai::sync::is_error_value(R_NilValue));
}
