// Restoring the daemon's R between tasks (--cleanup true): the global
// environment, the search path and options() go back to how they were
// after start-up and the last setup task, so one task cannot change the
// state the next one starts from. .Random.seed is left alone, so that
// tasks do not all draw the same random numbers.
#pragma once

#include "sync/r.hpp"

namespace mirai {
namespace worker {
namespace detail {

class r_state_keeper {
public:
    // Parse the R helpers. R thread only; throws Rcpp::exception.
    r_state_keeper();

    // Record the current state as the one to restore. R thread only.
    void snapshot();

    // Remove globals, attached entries and options added since the
    // snapshot, and put back the values it recorded. R errors are caught
    // and logged as warnings. R thread only.
    void restore();

private:
    Rcpp::List helpers_; // the R functions snapshot and restore
    Rcpp::RObject saved_;
};

} // namespace detail
} // namespace worker
} // namespace mirai
