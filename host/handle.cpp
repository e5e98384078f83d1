// Collecting a task's result: the bytes from the daemon become an R object
// on R's thread, once, and are cached for later calls.
#include "host/handle.hpp"

#include "host/detail/task_state.hpp"
#include "host/detail/value_cache.hpp"
#include "host/session.hpp"
#include "dispatcher/dispatcher.h"
#include "sync/conditions.hpp"
#include "sync/serialize.hpp"

#include <string>
#include <vector>

namespace mirai {
namespace host {

namespace {

// How often a wait checks for an interrupt.
constexpr long interrupt_poll_ms = 20;

// How long a wait polls before it sleeps. A round trip of a small task
// takes 150 to 250 us on a 2-core VM, and waking a sleeping thread is a
// good part of that. Polling this long on both the host and the daemon
// took the bench's median round trip from 204-224 us to 137-169 us.
constexpr std::chrono::microseconds result_spin_limit(250);

std::string attribute_string(SEXP object, const char* name)
{
    SEXP value = Rf_getAttrib(object, Rf_install(name));
    if (TYPEOF(value) != STRSXP || XLENGTH(value) < 1) {
        return {};
    }
    return CHAR(STRING_ELT(value, 0));
}

std::vector<std::string> attribute_strings(SEXP object, const char* name)
{
    std::vector<std::string> out;
    SEXP value = Rf_getAttrib(object, Rf_install(name));
    if (TYPEOF(value) == STRSXP) {
        for (R_xlen_t i = 0; i < XLENGTH(value); i++) {
            out.emplace_back(CHAR(STRING_ELT(value, i)));
        }
    } else if (TYPEOF(value) == VECSXP) {
        for (R_xlen_t i = 0; i < XLENGTH(value); i++) {
            SEXP item = VECTOR_ELT(value, i);
            if (TYPEOF(item) == STRSXP && XLENGTH(item) > 0) {
                out.emplace_back(CHAR(STRING_ELT(item, 0)));
            }
        }
    }
    return out;
}

// state owns the result's message, so large vectors of the result may
// use its memory in place and keep state alive.
Rcpp::RObject decode_result(
    const std::shared_ptr<detail::task_state>& state_owner)
{
    const detail::task_state& state = *state_owner;
    if (state.status() != 0) {
        return sync::make_error_value(state.status());
    }
    try {
        return sync::unserialize(state.payload(), state.payload_len(),
                                 state_owner);
    } catch (const std::exception& e) {
        return sync::make_error(std::string("collect result of task ") +
                                std::to_string(state.id) + ": " + e.what());
    }
}

} // namespace

handle::handle(std::shared_ptr<detail::task_state> state,
               std::shared_ptr<detail::value_cache> cache)
    : state_(std::move(state)), cache_(std::move(cache))
{
}

const detail::task_state& handle::checked_state(const char* operation) const
{
    if (!state_) {
        throw error(std::string(operation) + ": empty handle");
    }
    return *state_;
}

bool handle::unresolved() const
{
    return !checked_state("poll task").is_resolved();
}

// Waits in short slices so that session::interrupt() or SIGINT can end
// the wait; the task itself carries on.
void handle::wait() const
{
    const detail::task_state& state = checked_state("wait for task");
    if (state.spin_for(result_spin_limit)) {
        return;
    }
    std::uint64_t generation = session::interrupt_generation();
    while (!state.wait_for_ms(interrupt_poll_ms)) {
        if (session::interrupt_generation() != generation) {
            throw interrupted("wait for task " + std::to_string(state.id) +
                              ": interrupted");
        }
    }
}

bool handle::wait_for(long timeout_ms) const
{
    return checked_state("wait for task").wait_for_ms(timeout_ms);
}

std::uint64_t handle::id() const
{
    return checked_state("read task id").id;
}

Rcpp::RObject handle::value() const
{
    checked_state("collect task");
    session::current().require_r_thread("collect task");
    detail::release_deferred_objects();
    if (cache_->object == nullptr) {
        wait();
        Rcpp::RObject result = decode_result(state_);
        cache_->store(result);
    }
    return Rcpp::RObject(cache_->object);
}

bool handle::is_error() const
{
    return sync::is_error_value(value());
}

int handle::error_code() const
{
    const detail::task_state& state = checked_state("read error code");
    wait();
    return state.status();
}

Rcpp::RObject handle::value_or_throw() const
{
    Rcpp::RObject result = value();
    if (sync::is_error_value(result)) {
        throw make_task_error(result, state_->id);
    }
    return result;
}

task_error make_task_error(SEXP result, std::uint64_t task_id)
{
    std::string prefix = "task " + std::to_string(task_id) + ": ";
    if (Rf_inherits(result, "miraiError")) {
        std::string message = attribute_string(result, "message");
        // A task may return any object with this class, so nothing about
        // its type is assumed: only a string gives the usual text.
        std::string text = TYPEOF(result) == STRSXP && XLENGTH(result) > 0
                               ? CHAR(STRING_ELT(result, 0))
                               : "Error: " + message;
        return task_error(prefix + text, 0, message,
                          attribute_string(result, "call"),
                          attribute_strings(result, "condition.class"),
                          attribute_strings(result, "stack.trace"));
    }
    if (Rf_inherits(result, "miraiInterrupt")) {
        return task_error(prefix + "interrupted", 0, "interrupted", "",
                          {"miraiInterrupt"}, {});
    }
    bool is_number = (TYPEOF(result) == INTSXP || TYPEOF(result) == REALSXP ||
                      TYPEOF(result) == LGLSXP) && XLENGTH(result) > 0;
    int code = is_number ? Rf_asInteger(result) : NA_INTEGER;
    std::string text = "error value " + std::to_string(code) + ": " +
                       dsp_strerror(code);
    return task_error(prefix + text, code, text, "", {"errorValue"}, {});
}

} // namespace host
} // namespace mirai
