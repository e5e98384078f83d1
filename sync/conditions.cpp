// Installation of the R support code and the constructors of the objects
// that stand in for a task's value. The objects themselves are built by R
// functions (see r_source.cpp), so that R users and this code agree on
// their shape.
#include "sync/conditions.hpp"

#include "sync/detail/guard.hpp"
#include "sync/detail/support.hpp"

#include <stdexcept>
#include <string>

namespace mirai {
namespace sync {
namespace {

// The private environment and the fallback error, both preserved for the
// life of the process. R runs once per process and only on one thread, so
// plain globals suffice. They are raw SEXPs, not Rcpp objects, because an
// Rcpp destructor running at exit after R has stopped would crash.
SEXP support_env = nullptr;
SEXP fallback = R_NilValue;

struct parse_job {
    const char* source;
    SEXP env;
};

// Parse the support source and evaluate each expression in the private
// environment.
SEXP run_parse(void* data)
{
    auto* job = static_cast<parse_job*>(data);
    SEXP text = PROTECT(Rf_mkString(job->source));
    ParseStatus status;
    SEXP exprs = PROTECT(R_ParseVector(text, -1, &status, R_NilValue));
    if (status != PARSE_OK)
        Rf_error("parse support code: status %d", static_cast<int>(status));
    for (R_xlen_t i = 0; i < Rf_xlength(exprs); i++)
        Rf_eval(VECTOR_ELT(exprs, i), job->env);
    UNPROTECT(2);
    return R_NilValue;
}

SEXP run_new_env(void*)
{
    return R_NewEnv(R_BaseEnv, TRUE, 29);
}

SEXP lookup(const char* name)
{
    SEXP fn = Rf_findVarInFrame(support_env, Rf_install(name));
    if (fn == R_UnboundValue)
        throw std::runtime_error(std::string("find support function '") +
                                 name + "': not found");
    return fn;
}

struct scalar_job {
    const std::string* text; // a string when set, else code
    int code;
};

SEXP run_make_scalar(void* data)
{
    auto* job = static_cast<scalar_job*>(data);
    if (job->text == nullptr)
        return Rf_ScalarInteger(job->code);
    SEXP text = PROTECT(Rf_mkCharLenCE(
        job->text->data(), static_cast<int>(job->text->size()), CE_UTF8));
    SEXP value = Rf_ScalarString(text);
    UNPROTECT(1);
    return value;
}

// A length-one character vector (UTF-8) made under guard.
Rcpp::RObject make_string(const std::string& text)
{
    scalar_job job{&text, 0};
    return detail::guarded(run_make_scalar, &job);
}

void create_support()
{
    Rcpp::RObject env = detail::guarded(run_new_env, nullptr);
    parse_job job{detail::support_source(), env};
    detail::guarded(run_parse, &job);

    R_PreserveObject(env);
    support_env = env;

    Rcpp::RObject message = make_string("build error result: out of memory");
    Rcpp::RObject error = detail::guarded_call(lookup("new_error"), {message});
    R_PreserveObject(error);
    fallback = error;
}

} // namespace

void install_r_support()
{
    detail::require_r_thread("install R support");
    try {
        if (support_env == nullptr)
            create_support();
        detail::guarded_call(lookup("install"), {});
    } catch (const std::exception& e) {
        throw std::runtime_error(
            std::string("install R support: ") + e.what());
    }
}

namespace detail {

SEXP support_function(const char* name)
{
    if (support_env == nullptr)
        install_r_support();
    return lookup(name);
}

SEXP fallback_error()
{
    return fallback;
}

} // namespace detail

Rcpp::RObject make_error_value(int code)
{
    scalar_job job{nullptr, code};
    Rcpp::RObject value = detail::guarded(run_make_scalar, &job);
    return detail::guarded_call(detail::support_function("new_error_value"),
                                {value});
}

Rcpp::RObject make_error(const std::string& message)
{
    Rcpp::RObject value = make_string(message);
    return detail::guarded_call(detail::support_function("new_error"),
                                {value});
}

Rcpp::RObject make_interrupt()
{
    return detail::guarded_call(detail::support_function("new_interrupt"),
                                {});
}

bool is_error_value(SEXP object)
{
    return Rf_inherits(object, "errorValue");
}

} // namespace sync
} // namespace mirai
