// Turning R source text from the caller into R objects on the host.
#pragma once

#include "sync/r.hpp"

#include <string>

namespace mirai {
namespace host {
namespace detail {

// Parse code into an expression vector. Throws error
// "parse expression: <R's message>" for a syntax error. R thread only.
Rcpp::RObject parse_code(const std::string& code);

// Parse and evaluate code in the global environment and return the
// result, which must be a function. Throws error otherwise.
Rcpp::RObject eval_function(const std::string& code);

} // namespace detail
} // namespace host
} // namespace mirai
