// A handle to one task (a "mirai"): poll it, wait for it, and collect its
// result as an R object or as a C++ value.
#pragma once

#include "host/error.hpp"
#include "sync/r.hpp"

#include <cstdint>
#include <memory>

namespace mirai {
namespace host {

namespace detail {
class task_state;
struct value_cache;
} // namespace detail

class handle {
public:
    handle() = default;

    // True until the task has a result. Any thread.
    bool unresolved() const;

    // Block until the task has a result. Any thread. Throws interrupted
    // (host/session.hpp) when session::interrupt() or SIGINT arrives
    // first; the handle stays valid and the task still resolves.
    void wait() const;

    // Block for at most timeout_ms; true when the task is resolved.
    bool wait_for(long timeout_ms) const;

    // Wait, then return the result as an R object: the value, a
    // miraiError for an R error, a miraiInterrupt, or an errorValue
    // (5 timed out, 19 connection reset, 20 cancelled). R thread only.
    // Like wait(), this and the other waiting calls below throw
    // interrupted on session::interrupt() or SIGINT.
    Rcpp::RObject value() const;

    // Wait, then convert the value with Rcpp::as<T>. Throws task_error
    // when the task did not produce a value. R thread only.
    template <typename T> T get() const
    {
        Rcpp::RObject v = value_or_throw();
        return Rcpp::as<T>(v);
    }

    // Wait, then tell whether the result is an error of any kind.
    bool is_error() const;

    // The error value (5, 19, 20) once resolved; 0 for a value, an R
    // error or an interrupt.
    int error_code() const;

    // The dispatcher's task id; 0 for a task evaluated in sync mode.
    std::uint64_t id() const;

    // True for a handle that refers to a task.
    explicit operator bool() const noexcept { return state_ != nullptr; }

    // Used by the host's internals: the shared state and the R cache.
    handle(std::shared_ptr<detail::task_state> state,
           std::shared_ptr<detail::value_cache> cache);
    const std::shared_ptr<detail::task_state>& state() const
    {
        return state_;
    }

private:
    Rcpp::RObject value_or_throw() const;
    const detail::task_state& checked_state(const char* operation) const;

    std::shared_ptr<detail::task_state> state_;
    std::shared_ptr<detail::value_cache> cache_;
};

// Build the task_error that stands for result, which must be an error
// object (miraiError, miraiInterrupt or errorValue). R thread only.
task_error make_task_error(SEXP result, std::uint64_t task_id);

} // namespace host
} // namespace mirai
