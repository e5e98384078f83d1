// mirai_map(): one task per element of a vector or list, or per row of a
// data frame, with results in input order.
#pragma once

#include "host/data.hpp"
#include "host/handle.hpp"
#include "host/task.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace mirai {
namespace host {

// Options of map_result::collect, like mirai's [.stop] and [.progress].
struct collect_options {
    // On the first task that fails (R error, interrupt or error value),
    // cancel every task still queued or running and throw task_error whose
    // what() names the failed element's 1-based index and its message.
    bool stop_on_error = false;
    // Draw a progress bar (done/total, elapsed time) on stderr while
    // waiting. Only when stderr is a terminal; otherwise nothing is drawn.
    bool progress = false;
};

// The tasks of one map, in input order.
class map_result {
public:
    map_result(std::vector<handle> tasks, Rcpp::RObject names);

    std::size_t size() const noexcept { return tasks_.size(); }
    const handle& operator[](std::size_t i) const { return tasks_[i]; }
    const std::vector<handle>& tasks() const noexcept { return tasks_; }

    // Wait for every task and return the results as an R list, named like
    // the input vector (errors appear as error objects). R thread only.
    Rcpp::List collect() const;

    // Wait as options request, then collect as above. R thread only.
    Rcpp::List collect(const collect_options& options) const;

    // Wait for every task; throw the task_error of the first one, in input
    // order, that did not produce a value, naming its element. R thread
    // only.
    Rcpp::List collect_or_throw() const;

private:
    void wait_all(const collect_options& options) const;
    [[noreturn]] void throw_failure(std::size_t index) const;

    std::vector<handle> tasks_;
    Rcpp::RObject names_;
};

// Apply f to each element of x: f(x[[i]], <args>) for an atomic vector or
// a list; for a data frame or a matrix, f is called once per row with the
// row's columns as named arguments. f is R code that evaluates to a
// function ("function(x) x + 1", "sqrt") or an R function object. args
// are passed to every call by name. options.timeout_ms and retries apply
// to each task separately. R thread only.
map_result mirai_map(SEXP x, const std::string& f, const data& args = {},
                     const task_options& options = {});
map_result mirai_map(SEXP x, SEXP f, const data& args = {},
                     const task_options& options = {});

// Cancel every task of a map; returns how many this call cancelled. Any
// thread.
std::size_t stop_mirai(const map_result& map);

} // namespace host
} // namespace mirai
