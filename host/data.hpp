// Named data for a task: R objects or plain C++ values, converted to R
// with Rcpp::wrap when the task is made.
#pragma once

#include "sync/r.hpp"

#include <string>
#include <utility>
#include <vector>

namespace mirai {
namespace host {

// One value. Any type Rcpp::wrap accepts converts implicitly: numbers,
// strings, bools, std::vector and std::map of those, SEXP and Rcpp
// objects. Construct on R's thread only.
class arg {
public:
    template <typename T>
    arg(const T& value) : object_(Rcpp::wrap(value))
    {
    }
    arg(const char* value) : object_(Rcpp::wrap(std::string(value))) {}

    SEXP sexp() const { return object_; }

private:
    Rcpp::RObject object_;
};

// The named data of a task, in order: {{"x", 42}, {"df", frame}}.
using data = std::vector<std::pair<std::string, arg>>;

// The named R list for values. R thread only.
Rcpp::List to_list(const data& values);

} // namespace host
} // namespace mirai
