#include "host/detail/r_code.hpp"

#include "host/error.hpp"

namespace mirai {
namespace host {
namespace detail {

namespace {

// R's own message without the "Error in ...:" frame Rcpp adds.
std::string r_message(const std::exception& e)
{
    std::string text = e.what();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

} // namespace

Rcpp::RObject parse_code(const std::string& code)
{
    Rcpp::Function parse("parse");
    try {
        return parse(Rcpp::Named("text") = code,
                     Rcpp::Named("keep.source") = false);
    } catch (const std::exception& e) {
        throw error("parse expression: " + r_message(e));
    }
}

Rcpp::RObject eval_function(const std::string& code)
{
    Rcpp::RObject exprs = parse_code(code);
    Rcpp::Function eval("eval");
    Rcpp::RObject value;
    try {
        Rcpp::ExpressionVector vector(exprs);
        for (R_xlen_t i = 0; i < vector.size(); i++) {
            value = eval(vector[i], R_GlobalEnv);
        }
    } catch (const std::exception& e) {
        throw error("evaluate function '" + code + "': " + r_message(e));
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
