// The R value of a task, kept on R's thread once collected. It holds a
// preserved SEXP; when the last copy dies on another thread, the release
// is deferred to R's thread instead of calling R from there. Objects are
// kept in Rcpp's precious list, which releases in constant time, where
// R_ReleaseObject searches a list of every preserved object: releasing a
// 10,000-task map's values one by one took quadratic time.
#pragma once

#include "sync/r.hpp"

namespace mirai {
namespace host {
namespace detail {

struct value_cache {
    value_cache() = default;
    ~value_cache();
    value_cache(const value_cache&) = delete;
    value_cache& operator=(const value_cache&) = delete;

    // Keep object (R thread only); replaces nothing once set.
    void store(SEXP object);

    SEXP object = nullptr;

private:
    SEXP token_ = nullptr; // object's cell in Rcpp's precious list
};

// Release objects (by token) whose release was deferred. R thread only; the host
// calls it at each R-thread entry point.
void release_deferred_objects();

} // namespace detail
} // namespace host
} // namespace mirai
