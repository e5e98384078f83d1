// The embedded R of a test process: constructed on first use (never in a
// static initialiser, because test discovery runs the binary) and kept for
// the life of the process, since R can start only once per process.
#pragma once

#include "sync/r.hpp"

#include <RInside.h>

#include <string>

namespace mirai {
namespace test {

// The process's R, started on the calling thread on first use. Every
// later call must come from that same thread.
inline RInside& r_session()
{
    static RInside* r = new RInside(0, nullptr, true, false, false);
    return *r;
}

// The value of R code, parsed and evaluated in the process's R.
inline Rcpp::RObject r(const std::string& code)
{
    return Rcpp::RObject(r_session().parseEval(code));
}

} // namespace test
} // namespace mirai
