// The R objects that stand in for a value when a task does not return
// one, shaped like mirai's so that R users recognise them:
//
// - miraiError: a character string "Error in <call>: <message>" with class
//   c("miraiError", "errorValue", "try-error") and the attributes
//   message, call, condition.class and stack.trace (a list of calls as
//   character strings, innermost first). conditionMessage(),
//   conditionCall() and `$` work on it.
// - miraiInterrupt: an empty string with class
//   c("miraiInterrupt", "errorValue", "try-error").
// - errorValue: an integer error code (5 timed out, 19 connection reset,
//   20 cancelled) with class c("errorValue", "try-error"), printed as
//   "'errorValue' int <code> | <text>".
//
// All functions call the R API and must run on R's thread.
#pragma once

#include "sync/r.hpp"

#include <string>

namespace mirai {
namespace sync {

// Define the S3 methods above (print, conditionMessage, conditionCall,
// $) in an environment attached to R's search path as "mirai.cpp".
// Idempotent. Call once after R starts and before the first task.
void install_r_support();

// An error value for code, e.g. make_error_value(19).
Rcpp::RObject make_error_value(int code);

// A miraiError built from a plain message, for failures outside R code
// (a payload that cannot be decoded, a result that cannot be encoded).
Rcpp::RObject make_error(const std::string& message);

// The interrupt object.
Rcpp::RObject make_interrupt();

// True when object is a miraiError, miraiInterrupt or errorValue.
bool is_error_value(SEXP object);

} // namespace sync
} // namespace mirai
