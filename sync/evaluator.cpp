// The evaluator. The R function eval_task (r_source.cpp) does the work
// and catches the task's own errors and interrupts. This file checks the
// input, calls eval_task under guard and turns anything that escapes it
// into an error or interrupt result, so the functions here never throw.
#include "sync/evaluator.hpp"

#include "sync/conditions.hpp"
#include "sync/serialize.hpp"
#include "sync/detail/guard.hpp"
#include "sync/detail/support.hpp"

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>

namespace mirai {
namespace sync {
namespace {

// An error result that cannot fail. If even the error object cannot be
// built, it returns the one made at installation.
evaluation error_result(const std::string& message)
{
    try {
        return {result_kind::error, make_error(message)};
    } catch (...) {
        return {result_kind::error, Rcpp::RObject(detail::fallback_error())};
    }
}

evaluation interrupt_result()
{
    try {
        return {result_kind::interrupt, make_interrupt()};
    } catch (...) {
        return error_result("evaluate task: interrupted");
    }
}

// The index of the element called name in list, or -1.
R_xlen_t find_element(SEXP list, const char* name)
{
    SEXP names = Rf_getAttrib(list, R_NamesSymbol);
    if (TYPEOF(names) != STRSXP)
        return -1;
    for (R_xlen_t i = 0; i < Rf_xlength(names); i++) {
        if (std::strcmp(CHAR(STRING_ELT(names, i)), name) == 0)
            return i;
    }
    return -1;
}

// The reason data cannot be a task's data, or an empty string when it
// can. It only reads R objects, so it needs no guard.
std::string check_data(SEXP data)
{
    if (data == R_NilValue)
        return "";
    if (TYPEOF(data) != VECSXP)
        return std::string("expected a named list, got type '") +
               Rf_type2char(TYPEOF(data)) + "'";
    R_xlen_t n = Rf_xlength(data);
    SEXP names = Rf_getAttrib(data, R_NamesSymbol);
    if (n > 0 && TYPEOF(names) != STRSXP)
        return "expected a named list, got a list without names";
    for (R_xlen_t i = 0; i < n; i++) {
        SEXP name = STRING_ELT(names, i);
        if (name == NA_STRING || CHAR(name)[0] == '\0')
            return "element " + std::to_string(i + 1) + " has no name";
    }
    return "";
}

// The reason task is not list(expr = , data = ), or an empty string.
std::string check_task(SEXP task)
{
    if (TYPEOF(task) != VECSXP)
        return std::string("expected list(expr = , data = ), got type '") +
               Rf_type2char(TYPEOF(task)) + "'";
    if (Rf_xlength(task) != 2 || find_element(task, "expr") < 0 ||
        find_element(task, "data") < 0)
        return "expected list(expr = , data = ), got a list of " +
               std::to_string(Rf_xlength(task)) +
               " elements without both names";
    std::string problem = check_data(
        VECTOR_ELT(task, find_element(task, "data")));
    return problem.empty() ? problem : "data: " + problem;
}

struct task_parts {
    SEXP expr;
    SEXP data;
};

// list(expr = expr, data = data), built in C: a call to an R function
// costs more than the rest of a small task's submission.
SEXP build_task(void* arg)
{
    auto* parts = static_cast<task_parts*>(arg);
    SEXP task = PROTECT(Rf_allocVector(VECSXP, 2));
    SEXP names = PROTECT(Rf_allocVector(STRSXP, 2));
    SET_STRING_ELT(names, 0, Rf_mkChar("expr"));
    SET_STRING_ELT(names, 1, Rf_mkChar("data"));
    SET_VECTOR_ELT(task, 0, parts->expr);
    SET_VECTOR_ELT(task, 1, parts->data);
    Rf_setAttrib(task, R_NamesSymbol, names);
    UNPROTECT(2);
    return task;
}

// The bindings of the box in which eval_task leaves a failed task.
const char* const box_fields[] = {"kind", "cond", "calls", "depth"};

// Set every binding of box to NULL. Once they exist, this allocates
// nothing.
SEXP clear_box(void* data)
{
    SEXP box = static_cast<SEXP>(data);
    for (const char* field : box_fields)
        Rf_defineVar(Rf_install(field), R_NilValue, box);
    return box;
}

SEXP make_box(void*)
{
    SEXP box = PROTECT(R_NewEnv(R_EmptyEnv, FALSE, 0));
    clear_box(box);
    UNPROTECT(1);
    return box;
}

// The environment in which eval_task leaves the condition of a task that
// raised an error or was interrupted, made once and kept.
SEXP result_box()
{
    static SEXP box = nullptr;
    if (box == nullptr) {
        Rcpp::RObject created = detail::guarded_fast(make_box, nullptr);
        R_PreserveObject(created);
        box = created;
    }
    return box;
}

evaluation from_pair(SEXP pair)
{
    int kind = INTEGER(VECTOR_ELT(pair, 0))[0];
    Rcpp::RObject object(VECTOR_ELT(pair, 1));
    return {static_cast<result_kind>(kind), object};
}

// eval_task returns a value, or leaves an error or an interrupt in the
// box and jumps out of the cheap guard, and box_result then builds the
// result. Any other jump leaves the box empty and is rethrown: the task's
// own abort restart, or an interrupt in the instant before eval_task sets
// up its handlers.
// Lets R act on interrupts while the task's own code runs, whatever the
// caller's setting (a daemon keeps them suspended between tasks), and
// restores that setting afterwards without acting on a pending one.
class interrupts_allowed {
public:
    interrupts_allowed() : saved_(R_interrupts_suspended)
    {
        R_interrupts_suspended = FALSE;
    }
    ~interrupts_allowed() { R_interrupts_suspended = saved_; }
    interrupts_allowed(const interrupts_allowed&) = delete;
    interrupts_allowed& operator=(const interrupts_allowed&) = delete;

private:
    Rboolean saved_;
};

evaluation run_task(SEXP expr, SEXP data)
{
    SEXP box = result_box();
    detail::guarded_fast(clear_box, box);
    try {
        Rcpp::RObject out;
        {
            interrupts_allowed allowed;
            out = detail::guarded_call_fast(
                detail::support_function("eval_task"), {expr, data, box});
        }
        return from_pair(out);
    } catch (const detail::r_failure&) {
        bool is_left = Rf_findVarInFrame(box, Rf_install("kind")) !=
                       R_NilValue;
        if (!is_left)
            throw;
    }
    try {
        Rcpp::RObject out = detail::guarded_call_fast(
            detail::support_function("box_result"), {box});
        detail::guarded_fast(clear_box, box);
        return from_pair(out);
    } catch (...) {
        detail::guarded_fast(clear_box, box);
        throw;
    }
}

} // namespace

namespace {

std::atomic<bool> is_interrupt_noted{false};

static_assert(std::atomic<bool>::is_always_lock_free,
              "note_interrupt_request runs in signal handlers");

} // namespace

void note_interrupt_request() noexcept
{
    is_interrupt_noted.store(true);
}

void clear_interrupt() noexcept
{
    R_interrupts_pending = 0;
}

Rcpp::RObject make_task(SEXP expr, SEXP data)
{
    task_parts parts{expr, data};
    try {
        return detail::guarded_fast(build_task, &parts);
    } catch (const detail::r_failure& e) {
        throw std::runtime_error(std::string("make task: ") + e.what());
    }
}

evaluation evaluate(SEXP expr, SEXP data)
{
    detail::require_r_thread("evaluate task");
    // A request to interrupt the previous task must not stop this one.
    clear_interrupt();
    is_interrupt_noted.store(false);

    try {
        std::string problem = check_data(data);
        if (!problem.empty())
            return error_result("evaluate task: data: " + problem);
        return run_task(expr, data);
    } catch (const detail::r_failure& e) {
        bool is_interrupt =
            e.kind() == detail::failure_kind::interrupt ||
            (e.kind() == detail::failure_kind::jump &&
             is_interrupt_noted.load());
        if (is_interrupt)
            return interrupt_result();
        return error_result(std::string("evaluate task: ") + e.what());
    } catch (const std::exception& e) {
        return error_result(std::string("evaluate task: ") + e.what());
    } catch (...) {
        return error_result("evaluate task: unknown C++ exception");
    }
}

evaluation evaluate_payload(const void* payload, std::size_t len,
                            std::shared_ptr<const void> owner)
{
    detail::require_r_thread("decode task");
    Rcpp::RObject task;
    try {
        task = unserialize(payload, len, std::move(owner));
    } catch (const std::exception& e) {
        return error_result(std::string("decode task: ") + e.what());
    } catch (...) {
        return error_result("decode task: unknown C++ exception");
    }

    std::string problem;
    try {
        problem = check_task(task);
    } catch (...) {
        problem = "out of memory";
    }
    if (!problem.empty())
        return error_result("decode task: " + problem);
    return evaluate(VECTOR_ELT(task, find_element(task, "expr")),
                    VECTOR_ELT(task, find_element(task, "data")));
}

} // namespace sync
} // namespace mirai
