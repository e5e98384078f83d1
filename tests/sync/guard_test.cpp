#include "sync/detail/guard.hpp"

#include "tests/support/r_session.hpp"

#include <catch2/catch.hpp>

#include <string>

using mirai::sync::detail::failure_kind;
using mirai::sync::detail::guarded_call_fast;
using mirai::sync::detail::guarded_fast;
using mirai::sync::detail::r_failure;
using mirai::test::r;
using mirai::test::r_session;

namespace {

SEXP make_answer(void*)
{
    return Rf_ScalarInteger(42);
}

SEXP raise_c_error(void*)
{
    Rf_error("bad value %d", 7);
    return R_NilValue;
}

// Evaluate the call in data in the base environment.
SEXP eval_in_base(void* data)
{
    return Rf_eval(static_cast<SEXP>(data), R_BaseEnv);
}

SEXP raise_interrupt(void*)
{
    R_interrupts_pending = 1;
    R_CheckUserInterrupt();
    return R_NilValue;
}

// The r_failure that guarded_fast(body, data) throws; fails the test
// when it returns instead.
r_failure fast_failure(SEXP (*body)(void*), void* data = nullptr)
{
    try {
        guarded_fast(body, data);
    } catch (const r_failure& e) {
        return e;
    }
    FAIL("guarded_fast returned instead of throwing r_failure");
    return r_failure(failure_kind::jump, "");
}

} // namespace

TEST_CASE("guarded_fast returns the body's value", "[sync][r]")
{
    r_session();
    Rcpp::RObject value = guarded_fast(make_answer, nullptr);
    REQUIRE(TYPEOF(value) == INTSXP);
    REQUIRE(Rf_asInteger(value) == 42);
}

TEST_CASE("guarded_fast turns a C error into r_failure", "[sync][r]")
{
    r_session();
    r_failure e = fast_failure(raise_c_error);
    REQUIRE(e.kind() == failure_kind::error);
    REQUIRE(std::string(e.what()) == "bad value 7");
}

TEST_CASE("guarded_fast turns stop() into r_failure", "[sync][r]")
{
    Rcpp::RObject call = r("quote(stop('from R code'))");
    r_failure e = fast_failure(eval_in_base, call);
    REQUIRE(e.kind() == failure_kind::error);
    REQUIRE(std::string(e.what()) == "from R code");
}

TEST_CASE("guarded_fast reports an abort restart as a jump", "[sync][r]")
{
    Rcpp::RObject call = r("quote(invokeRestart('abort'))");
    r_failure e = fast_failure(eval_in_base, call);
    REQUIRE(e.kind() == failure_kind::jump);
    REQUIRE(std::string(e.what()) == "aborted by a jump to the top level");
}

TEST_CASE("guarded_fast reports an interrupt as a jump", "[sync][r]")
{
    r_session();
    r_failure e = fast_failure(raise_interrupt);
    REQUIRE(e.kind() == failure_kind::jump);
    REQUIRE(R_interrupts_pending == 0);
}

TEST_CASE("guarded_fast leaves R usable after errors", "[sync][r]")
{
    Rcpp::RObject call = r("quote(stop('again'))");
    for (int i = 0; i < 100; i++) {
        r_failure e = fast_failure(eval_in_base, call);
        REQUIRE(e.kind() == failure_kind::error);
    }
    Rcpp::RObject sum = guarded_call_fast(r("`+`"), {Rf_ScalarReal(1),
                                                      Rf_ScalarReal(2)});
    REQUIRE(Rf_asReal(sum) == 3);
}

TEST_CASE("guarded_fast lets an inner tryCatch win", "[sync][r]")
{
    // A handler of the caller's sees the error first and may handle it:
    // tryCatch inside the body wins over the guard's handler.
    Rcpp::RObject call =
        r("quote(tryCatch(stop('inner'), error = function(e) 'handled'))");
    Rcpp::RObject value = guarded_fast(eval_in_base, call.get__());
    REQUIRE(Rcpp::as<std::string>(value) == "handled");
}
