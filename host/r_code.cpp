#include "host/detail/r_code.hpp"

#include "host/error.hpp"
#include "sync/detail/guard.hpp"

namespace mirai {
namespace host {
namespace detail {

namespace {

// Call an R function from base by name under sync's guard, so that an R
// error becomes sync::detail::r_failure instead of a long jump.
Rcpp::RObject call_base(const char* name, std::initializer_list<SEXP> args)
{
    SEXP fn = Rf_findFun(Rf_install(name), R_BaseEnv);
    return sync::detail::guarded_call(fn, args);
}

// call_base() under the cheap guard, for code that evaluates nothing of
// the caller's and so needs no interrupt handling: about 15 us less per
// call.
Rcpp::RObject call_base_fast(const char* name,
                             std::initializer_list<SEXP> args)
{
    SEXP fn = Rf_findFun(Rf_install(name), R_BaseEnv);
    return sync::detail::guarded_call_fast(fn, args);
}

} // namespace

Rcpp::RObject parse_code(const std::string& code)
{
    std::size_t nul = code.find('\0');
    if (nul != std::string::npos) {
        // R strings end at a NUL, so the rest would be dropped silently.
        throw error("parse expression: NUL byte at offset " +
                    std::to_string(nul) + "; R code cannot contain one");
    }
    Rcpp::CharacterVector text(1, code);
    try {
        // str2expression() keeps no source references, so the parsed
        // expression stays small on the wire whatever keep.source is set to.
        return call_base_fast("str2expression", {text});
    } catch (const sync::detail::r_failure& e) {
        throw error("parse expression: " + std::string(e.what()));
    }
}

Rcpp::RObject eval_function(const std::string& code)
{
    Rcpp::ExpressionVector exprs(parse_code(code));
    Rcpp::RObject value;
    try {
        for (R_xlen_t i = 0; i < exprs.size(); i++) {
            value = call_base("eval", {exprs[i], R_GlobalEnv});
        }
    } catch (const sync::detail::r_failure& e) {
        throw error("evaluate function '" + code + "': " + e.what());
    }
    if (!Rf_isFunction(value)) {
        throw error("evaluate function '" + code +
                    "': expected a function, got " +
                    Rf_type2char(TYPEOF(value)));
    }
    return value;
}

} // namespace detail
} // namespace host
} // namespace mirai
