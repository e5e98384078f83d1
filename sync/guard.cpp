// Guarded calls into R, built from two layers. R_tryCatch catches R
// conditions of class "error" and "interrupt" and hands over the
// condition's message. R_ToplevelExec, around it, stops every other long
// jump, for example an "abort" restart, which would otherwise unwind to a
// top-level context that an embedded R does not have. The cheap guard,
// guarded_fast(), replaces the R_tryCatch layer with a calling error
// handler written in C.
#include "sync/detail/guard.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

namespace mirai {
namespace sync {
namespace detail {
namespace {

struct guard_state {
    SEXP (*body)(void*);
    void* data;
    SEXP result;        // preserved until guarded() wraps it
    bool has_returned;  // body returned normally
    bool has_condition; // a handled condition ended body
    bool is_interrupt;
    char message[8192]; // the condition's message, cut to 8191 bytes
};

// The condition classes that R_tryCatch catches, made once and kept.
SEXP caught_classes()
{
    static SEXP classes = R_NilValue;
    if (classes == R_NilValue) {
        SEXP value = PROTECT(Rf_allocVector(STRSXP, 2));
        SET_STRING_ELT(value, 0, Rf_mkChar("error"));
        SET_STRING_ELT(value, 1, Rf_mkChar("interrupt"));
        R_PreserveObject(value);
        UNPROTECT(1);
        classes = value;
    }
    return classes;
}

// Copy cond$message into out, cut to capacity - 1 bytes. The condition
// is not protected once its handler returns, so nothing of it may be kept.
void copy_message(SEXP cond, char* out, std::size_t capacity)
{
    out[0] = '\0';
    if (TYPEOF(cond) != VECSXP)
        return;

    SEXP names = Rf_getAttrib(cond, R_NamesSymbol);
    R_xlen_t n = Rf_xlength(cond);
    for (R_xlen_t i = 0; i < n && TYPEOF(names) == STRSXP; i++) {
        if (std::strcmp(CHAR(STRING_ELT(names, i)), "message") != 0)
            continue;
        SEXP message = VECTOR_ELT(cond, i);
        if (TYPEOF(message) == STRSXP && Rf_xlength(message) > 0) {
            const char* text = Rf_translateCharUTF8(STRING_ELT(message, 0));
            std::size_t size = std::min(std::strlen(text), capacity - 1);
            std::memcpy(out, text, size);
            out[size] = '\0';
        }
        break;
    }
}

SEXP on_condition(SEXP cond, void* data)
{
    auto* state = static_cast<guard_state*>(data);
    state->has_condition = true;
    state->is_interrupt = Rf_inherits(cond, "interrupt");
    copy_message(cond, state->message, sizeof(state->message));
    return R_NilValue;
}

void run_try_catch(void* data)
{
    auto* state = static_cast<guard_state*>(data);
    SEXP value = R_tryCatch(state->body, state->data, caught_classes(),
                            on_condition, state, nullptr, nullptr);
    if (!state->has_condition) {
        R_PreserveObject(value);
        state->result = value;
        state->has_returned = true;
    }
}

// The state of one guarded_fast() call. The message buffer is left
// uninitialised until an error fills it: clearing 8 KB per call would
// cost more than the rest of the guard.
struct fast_guard_state {
    SEXP (*body)(void*);
    void* data;
    SEXP result;       // preserved until guarded_fast() wraps it
    bool has_returned; // body returned normally
    bool has_error;    // an R error ended body
    char message[8192];
};

// A call that jumps to the top level through R's own "abort" restart,
// made once and kept. That restart is always the last one
// computeRestarts() lists; invokeRestart("abort") would take an "abort"
// restart that the code in the body set up itself.
SEXP abort_call()
{
    static SEXP call = R_NilValue;
    if (call == R_NilValue) {
        SEXP fn = PROTECT(R_ParseEvalString(
            "function() { restarts <- computeRestarts(); "
            "invokeRestart(restarts[[length(restarts)]]) }",
            R_BaseEnv));
        SEXP value = Rf_lang1(fn);
        R_PreserveObject(value);
        UNPROTECT(1);
        call = value;
    }
    return call;
}

// R's calling handler for an error inside guarded_fast(). It keeps the
// message, then leaves through R's "abort" restart, which unwinds without
// printing to the R_ToplevelExec context of the guard. Returning instead
// would let R print the error before it unwinds.
SEXP on_fast_error(SEXP cond, void* data)
{
    auto* state = static_cast<fast_guard_state*>(data);
    state->has_error = true;
    copy_message(cond, state->message, sizeof(state->message));
    Rf_eval(abort_call(), R_BaseEnv);
    return R_NilValue;
}

void run_with_error_handler(void* data)
{
    auto* state = static_cast<fast_guard_state*>(data);
    SEXP value = R_withCallingErrorHandler(state->body, state->data,
                                           on_fast_error, state);
    R_PreserveObject(value);
    state->result = value;
    state->has_returned = true;
}

struct call_state {
    SEXP fn;
    SEXP args[4];
    std::size_t nargs;
};

SEXP run_call(void* data)
{
    auto* state = static_cast<call_state*>(data);
    SEXP call = PROTECT(Rf_allocVector(LANGSXP, state->nargs + 1));
    SETCAR(call, state->fn);
    SEXP cell = CDR(call);
    for (std::size_t i = 0; i < state->nargs; i++, cell = CDR(cell)) {
        // quote() keeps a symbol or a call from being evaluated as an
        // argument; it returns any other object unchanged.
        SETCAR(cell, Rf_lang2(R_QuoteSymbol, state->args[i]));
    }
    SEXP value = Rf_eval(call, R_BaseEnv);
    UNPROTECT(1);
    return value;
}

} // namespace

void require_r_thread(const char* operation)
{
    static std::mutex mutex;
    static bool is_claimed = false;
    static std::thread::id r_thread;

    std::lock_guard<std::mutex> lock(mutex);
    if (!is_claimed) {
        r_thread = std::this_thread::get_id();
        is_claimed = true;
    }
    if (std::this_thread::get_id() == r_thread)
        return;
    std::ostringstream message;
    message << operation << ": called from thread "
            << std::this_thread::get_id() << ", but R runs on thread "
            << r_thread;
    throw std::logic_error(message.str());
}

Rcpp::RObject guarded(SEXP (*body)(void*), void* data)
{
    require_r_thread("call R");
    guard_state state{body, data, R_NilValue, false, false, false, {}};

    bool completed = R_ToplevelExec(run_try_catch, &state);
    if (completed && state.has_returned) {
        Rcpp::RObject result(state.result);
        R_ReleaseObject(state.result);
        return result;
    }
    if (!completed)
        throw r_failure(failure_kind::jump,
                        "aborted by a jump to the top level");
    if (state.is_interrupt)
        throw r_failure(failure_kind::interrupt, "interrupted");
    throw r_failure(failure_kind::error, state.message);
}

Rcpp::RObject guarded_fast(SEXP (*body)(void*), void* data)
{
    require_r_thread("call R");
    abort_call(); // made before body runs, so an error never allocates it
    fast_guard_state state;
    state.body = body;
    state.data = data;
    state.result = R_NilValue;
    state.has_returned = false;
    state.has_error = false;

    bool completed = R_ToplevelExec(run_with_error_handler, &state);
    if (completed && state.has_returned) {
        Rcpp::RObject result(state.result);
        R_ReleaseObject(state.result);
        return result;
    }
    if (state.has_error)
        throw r_failure(failure_kind::error, state.message);
    throw r_failure(failure_kind::jump,
                    "aborted by a jump to the top level");
}

namespace {

call_state make_call_state(SEXP fn, std::initializer_list<SEXP> args)
{
    call_state state{fn, {}, 0};
    if (args.size() > 4)
        throw std::invalid_argument(
            "call R function: expected at most 4 arguments, got " +
            std::to_string(args.size()));
    for (SEXP arg : args)
        state.args[state.nargs++] = arg;
    return state;
}

} // namespace

Rcpp::RObject guarded_call(SEXP fn, std::initializer_list<SEXP> args)
{
    call_state state = make_call_state(fn, args);
    return guarded(run_call, &state);
}

Rcpp::RObject guarded_call_fast(SEXP fn, std::initializer_list<SEXP> args)
{
    call_state state = make_call_state(fn, args);
    return guarded_fast(run_call, &state);
}

} // namespace detail
} // namespace sync
} // namespace mirai
