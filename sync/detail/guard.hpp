// Protected calls into R. An R error, an interrupt or any other long jump
// (an "abort" restart, "Q" in the browser) stops at the guarded call and
// becomes a C++ exception. So no C++ destructor is skipped and no C++
// exception crosses R's frames.
//
// Everything here calls the R API and must run on R's thread.
#pragma once

#include "sync/r.hpp"

#include <initializer_list>
#include <stdexcept>
#include <string>

namespace mirai {
namespace sync {
namespace detail {

// The ways a guarded call can fail.
enum class failure_kind {
    error,     // an R condition of class "error"
    interrupt, // an R condition of class "interrupt"
    jump       // a long jump to the top level that no handler caught
};

// The failure of a guarded call. what() is R's condition message.
class r_failure : public std::runtime_error {
public:
    r_failure(failure_kind kind, const std::string& message)
        : std::runtime_error(message), kind_(kind)
    {
    }

    failure_kind kind() const noexcept
    {
        return kind_;
    }

private:
    failure_kind kind_;
};

// Throw std::logic_error, naming operation, unless the calling thread is
// R's thread. R's thread is taken to be the first thread that calls this
// function, which is the thread that installs the R support, because R
// itself does not record which thread started it.
void require_r_thread(const char* operation);

// Call body(data) under protection and return its result. body may call
// any R API function and may long jump, but must not throw. Throws
// r_failure when body does not return normally, and std::logic_error
// when called from a thread other than R's.
Rcpp::RObject guarded(SEXP (*body)(void*), void* data);

// Like guarded(), but cheap: about 0.2 us of overhead instead of about
// 15 us (measured on a 2-core Debian 12 machine with R 4.2). R errors are
// caught by a calling handler written in C (R_withCallingErrorHandler)
// instead of R's tryCatch, and throw r_failure with failure_kind::error
// and the message. It cannot tell an interrupt from another jump, so both
// throw failure_kind::jump. Use it where interrupts cannot happen or are
// caught inside, as in serialization or the evaluator's R code.
Rcpp::RObject guarded_fast(SEXP (*body)(void*), void* data);

// Call the R function fn with the given arguments (at most 4), each passed
// as is, not evaluated. Throws r_failure like guarded().
Rcpp::RObject guarded_call(SEXP fn, std::initializer_list<SEXP> args);

// guarded_call() under guarded_fast(), with its limits.
Rcpp::RObject guarded_call_fast(SEXP fn, std::initializer_list<SEXP> args);

} // namespace detail
} // namespace sync
} // namespace mirai
