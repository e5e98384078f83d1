// mirai(), everywhere() and race_mirai().
#include "host/task.hpp"

#include "host/detail/profile.hpp"
#include "host/detail/r_code.hpp"
#include "host/detail/task_options.hpp"
#include "host/detail/task_state.hpp"
#include "host/detail/value_cache.hpp"
#include "host/error.hpp"
#include "host/session.hpp"
#include "sync/evaluator.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace mirai {
namespace host {

namespace {

void check_names(const data& values, const char* operation)
{
    std::unordered_map<std::string, std::size_t> first_item;
    for (std::size_t i = 0; i < values.size(); i++) {
        if (values[i].first.empty()) {
            throw error(std::string(operation) + ": data item " +
                        std::to_string(i + 1) + " has an empty name");
        }
        if (values[i].first.find('\0') != std::string::npos) {
            throw error(std::string(operation) + ": data item " +
                        std::to_string(i + 1) +
                        " has a NUL byte in its name");
        }
        auto added = first_item.emplace(values[i].first, i);
        if (!added.second) {
            throw error(std::string(operation) + ": data item " +
                        std::to_string(i + 1) + " repeats the name '" +
                        values[i].first + "' of item " +
                        std::to_string(added.first->second + 1) +
                        "; data names must be unique");
        }
    }
}

detail::profile& enter(const char* operation, const std::string& profile)
{
    session& s = session::current();
    s.require_r_thread(operation);
    detail::release_deferred_objects();
    return s.profiles().get(profile);
}

// Prefix exprs with list2env(values, envir = .GlobalEnv), so that the
// data of an everywhere() call persists on each daemon as globals, as in
// mirai, while the expression itself still runs in a fresh environment.
Rcpp::RObject assign_globals_first(SEXP exprs, SEXP values)
{
    R_xlen_t n = Rf_xlength(exprs);
    Rcpp::Shield<SEXP> assign(Rf_lang3(Rf_install("list2env"), values,
                                       R_GlobalEnv));
    SET_TAG(CDDR(assign), Rf_install("envir"));
    Rcpp::Shield<SEXP> out(Rf_allocVector(EXPRSXP, n + 1));
    SET_VECTOR_ELT(out, 0, assign);
    for (R_xlen_t i = 0; i < n; i++) {
        SET_VECTOR_ELT(out, i + 1, VECTOR_ELT(exprs, i));
    }
    return Rcpp::RObject(out);
}

} // namespace

void detail::check_task_options(const task_options& options,
                                const char* operation)
{
    if (options.timeout_ms && *options.timeout_ms <= 0) {
        throw error(std::string(operation) +
                    ": expected a positive timeout in ms, got " +
                    std::to_string(*options.timeout_ms));
    }
    if (options.timeout_ms && *options.timeout_ms > INT32_MAX) {
        throw error(std::string(operation) +
                    ": expected a timeout of at most " +
                    std::to_string(INT32_MAX) + " ms, got " +
                    std::to_string(*options.timeout_ms));
    }
    if (options.retries && *options.retries < 0) {
        throw error(std::string(operation) +
                    ": expected retries of 0 or more, got " +
                    std::to_string(*options.retries));
    }
}

handle mirai(const std::string& expression, const data& values,
             const task_options& options)
{
    detail::profile& p = enter("create task", options.profile);
    check_names(values, "create task");
    detail::check_task_options(options, "create task");
    Rcpp::RObject expr = detail::parse_code(expression);
    Rcpp::RObject task = sync::make_task(expr, to_list(values));
    return p.submit(task, options.timeout_ms.value_or(0),
                    options.retries.value_or(-1));
}

std::optional<handle> try_mirai(const std::string& expression,
                                const data& values,
                                const task_options& options)
{
    detail::profile& p = enter("create task", options.profile);
    check_names(values, "create task");
    detail::check_task_options(options, "create task");
    Rcpp::RObject expr = detail::parse_code(expression);
    Rcpp::RObject task = sync::make_task(expr, to_list(values));
    handle h = p.submit(task, options.timeout_ms.value_or(0),
                        options.retries.value_or(-1), false);
    if (!h) {
        return std::nullopt;
    }
    return h;
}

void everywhere(const std::string& expression, const data& values,
                const everywhere_options& options)
{
    detail::profile& p = enter("everywhere", options.profile);
    check_names(values, "everywhere");
    if (options.timeout_ms <= 0) {
        throw error("everywhere: expected a positive timeout in ms, got " +
                    std::to_string(options.timeout_ms));
    }
    Rcpp::RObject expr = detail::parse_code(expression);
    if (!values.empty()) {
        expr = assign_globals_first(expr, to_list(values));
    }
    Rcpp::RObject task = sync::make_task(expr, R_NilValue);
    p.everywhere(task, options.min, options.timeout_ms);
}

bool stop_mirai(const handle& task)
{
    if (!task) {
        throw error("stop task: empty handle");
    }
    return task.state()->cancel();
}

std::size_t stop_mirai(const std::vector<handle>& tasks)
{
    std::size_t cancelled = 0;
    for (const handle& task : tasks) {
        if (task && task.state()->cancel()) {
            cancelled++;
        }
    }
    return cancelled;
}

std::size_t race_mirai(const std::vector<handle>& tasks)
{
    if (tasks.empty()) {
        throw error("race tasks: expected at least one handle, got none");
    }
    detail::resolution_signal& signal =
        *session::current().profiles().signal();
    std::uint64_t interrupts = session::interrupt_generation();
    while (true) {
        std::uint64_t generation;
        {
            std::lock_guard<std::mutex> lock(signal.mutex);
            generation = signal.generation;
        }
        for (std::size_t i = 0; i < tasks.size(); i++) {
            if (!tasks[i].unresolved()) {
                return i;
            }
        }
        // A resolution after the scan bumps the generation, so the wait
        // below cannot miss it. The wait is sliced, as handle::wait() is,
        // so that session::interrupt() or SIGINT can end it.
        std::unique_lock<std::mutex> lock(signal.mutex);
        while (!signal.cv.wait_for(lock, std::chrono::milliseconds(20), [&] {
            return signal.generation != generation;
        })) {
            if (session::interrupt_generation() != interrupts) {
                throw interrupted("race tasks: interrupted");
            }
        }
    }
}

} // namespace host
} // namespace mirai
