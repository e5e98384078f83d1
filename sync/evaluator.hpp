// The evaluator: runs one task in an embedded R and builds its result.
// The host's synchronous mode and every worker use it, so a task behaves
// the same wherever it runs.
//
// Every function here calls the R API and must run on the thread that
// started the embedded R.
#pragma once

#include "sync/r.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace mirai {
namespace sync {

// How a task ended. The numbers equal the wire's dsp_result_flag values.
enum class result_kind : std::uint32_t { value = 0, error = 1, interrupt = 2 };

// A task's outcome: the value, or the error or interrupt object that
// stands in for it (see conditions.hpp).
struct evaluation {
    result_kind kind;
    Rcpp::RObject object;
};

// Build the R object that carries a task over the wire (throws
// std::runtime_error when R cannot allocate it):
// list(expr = expr, data = data), where expr is a language object or an
// expression vector and data a named list (possibly empty).
Rcpp::RObject make_task(SEXP expr, SEXP data);

// Evaluate expr in a fresh environment that holds the elements of data and
// is enclosed by the global environment. Errors (with message, call,
// classes and call stack) and interrupts are caught and returned as
// objects. Never throws for anything the task does. Throws
// std::logic_error, before touching R, when called from a thread other
// than R's (the first thread that used this library).
evaluation evaluate(SEXP expr, SEXP data);

// Record that an interrupt was requested for the evaluation in progress.
// Async-signal-safe. An interrupt that lands just before the task's
// handlers are set up makes R jump to the top level. With this record,
// evaluate() reports that jump as an interrupt, not an error.
void note_interrupt_request() noexcept;

// Clear R's pending interrupt flag. evaluate() calls it before each task,
// so that an interrupt meant for a finished task cannot stop the next one.
void clear_interrupt() noexcept;

// Decode a task made by make_task and serialized with serialize_to, then
// evaluate it. A payload that cannot be decoded or is not a task becomes
// an error result naming the problem. Throws only std::logic_error, like
// evaluate(), when called from a thread other than R's. owner, when
// given, owns the payload's memory and lets its large vectors be used in
// place, as for unserialize().
evaluation evaluate_payload(const void* payload, std::size_t len,
                            std::shared_ptr<const void> owner = nullptr);

} // namespace sync
} // namespace mirai
