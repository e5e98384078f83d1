// Interrupting the host's R. R notices R_interrupts_pending at its next
// check, but R blocked in a system call (Sys.sleep, a socket read) only
// gets there when a signal ends the call with EINTR. So an interrupt sets
// the flag and sends SIGINT to R's thread, whose handler (installed
// without SA_RESTART) does the same for a SIGINT from outside. The flag
// is set only while an evaluation_scope is open, and cleared when one
// opens or closes, so an interrupt cannot reach a later scope. A scope
// that closes between the check and the store leaves the flag set for R
// code run outside any scope, until the next scope clears it.
#include "host/session.hpp"
#include "sync/evaluator.hpp"

#include <RInside.h>
#include <R_ext/Parse.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace mirai {
namespace host {

namespace {

std::atomic<std::uint64_t> interrupt_counter{0};
std::atomic<int> evaluation_depth{0};
pthread_t r_thread_handle;
struct sigaction previous_action; // restored when the session ends

static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "the SIGINT handler needs a lock-free counter");
static_assert(std::atomic<int>::is_always_lock_free,
              "the SIGINT handler needs a lock-free flag");

// Only async-signal-safe calls: atomics, a volatile int, pthread_kill.
void stop_evaluation(bool is_on_r_thread) noexcept
{
    if (evaluation_depth.load() == 0) {
        return;
    }
    sync::note_interrupt_request();
    R_interrupts_pending = 1;
    if (!is_on_r_thread) {
        pthread_kill(r_thread_handle, SIGINT);
    }
}

extern "C" void on_interrupt_signal(int)
{
    int saved_errno = errno;
    bool is_on_r_thread = pthread_equal(pthread_self(), r_thread_handle);
    // A SIGINT forwarded to R's thread below arrives here once more; it
    // only needs to end R's system call, so it is not counted twice.
    if (!is_on_r_thread || evaluation_depth.load() == 0) {
        interrupt_counter++;
    } else if (R_interrupts_pending == 0) {
        interrupt_counter++;
    }
    stop_evaluation(is_on_r_thread);
    errno = saved_errno;
}

// The R side of session::evaluate. It catches interrupts in R because
// R's own SIGINT handler (set by R_SelectEx inside Sys.sleep) may be the
// one that handles the signal. The result is list(kind, detail): 0 and
// the value, 1 for an interrupt, 2 and the parse error's message, 3 and
// the R error's message.
const char* const evaluate_source = R"R_SOURCE(
function(code) {
    exprs <- tryCatch(parse(text = code, keep.source = FALSE),
                      error = function(cond) cond)
    if (inherits(exprs, "error"))
        return(list(2L, conditionMessage(exprs)))
    value <- NULL
    for (expr in exprs) {
        out <- tryCatch(list(0L, eval(expr, .GlobalEnv)),
                        interrupt = function(cond) list(1L, NULL),
                        error = function(cond) list(3L, conditionMessage(cond)))
        if (out[[1L]] != 0L)
            return(out)
        value <- out[[2L]]
    }
    list(0L, value)
}
)R_SOURCE";

// The closure built from evaluate_source, made once and kept from the
// garbage collector for the life of the process.
SEXP evaluate_function()
{
    static SEXP function = nullptr;
    if (function != nullptr) {
        return function;
    }
    ParseStatus status;
    SEXP text = PROTECT(Rf_mkString(evaluate_source));
    SEXP exprs = PROTECT(R_ParseVector(text, -1, &status, R_NilValue));
    if (status != PARSE_OK) {
        UNPROTECT(2);
        throw error("evaluate R code: cannot parse the evaluator");
    }
    int failed = 0;
    SEXP closure = R_tryEvalSilent(VECTOR_ELT(exprs, 0), R_BaseEnv, &failed);
    if (failed) {
        UNPROTECT(2);
        throw error("evaluate R code: cannot build the evaluator");
    }
    R_PreserveObject(closure);
    UNPROTECT(2);
    function = closure;
    return function;
}

// NNG 1.5.2 starts its thread pools when the first socket opens, and new
// threads inherit the signal mask of the thread that starts them. Opening
// a socket here with SIGINT blocked keeps every NNG thread from receiving
// a Ctrl-C, so it never interrupts a system call NNG is in. An NNG already
// started by the application keeps its threads as they are, and the
// handler forwards a SIGINT that lands on one of them.
void start_nng_without_interrupts()
{
    sigset_t set;
    sigset_t previous;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &previous);
    nng_socket socket;
    if (nng_pair1_open(&socket) == 0) {
        nng_close(socket);
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

} // namespace

void session::install_interrupt_handler()
{
    start_nng_without_interrupts();
    r_thread_handle = pthread_self();
    struct sigaction action;
    std::memset(&action, 0, sizeof(action));
    action.sa_handler = on_interrupt_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: R's blocked call must fail
    if (sigaction(SIGINT, &action, &previous_action) != 0) {
        throw error(std::string("install SIGINT handler: ") +
                    std::strerror(errno));
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void session::remove_interrupt_handler() noexcept
{
    sigaction(SIGINT, &previous_action, nullptr);
}

void session::interrupt() noexcept
{
    interrupt_counter++;
    stop_evaluation(pthread_equal(pthread_self(), r_thread_handle));
}

std::uint64_t session::interrupt_generation() noexcept
{
    return interrupt_counter.load();
}

session::evaluation_scope::evaluation_scope() noexcept
    : is_outer_(evaluation_depth.load() == 0)
{
    if (is_outer_) {
        R_interrupts_pending = 0;
    }
    evaluation_depth++;
}

session::evaluation_scope::~evaluation_scope()
{
    evaluation_depth--;
    if (is_outer_) {
        R_interrupts_pending = 0;
    }
}

Rcpp::RObject session::evaluate(const std::string& code)
{
    require_r_thread("evaluate R code");
    Rcpp::RObject run = evaluate_function();
    Rcpp::RObject call(Rf_lang2(run, Rf_mkString(code.c_str())));

    evaluation_scope scope;
    int failed = 0;
    Rcpp::RObject out(R_tryEvalSilent(call, R_GlobalEnv, &failed));
    if (failed) {
        throw error("evaluate R code: R failed outside the code");
    }
    int kind = INTEGER(VECTOR_ELT(out, 0))[0];
    SEXP detail = VECTOR_ELT(out, 1);
    switch (kind) {
    case 1:
        throw interrupted("evaluate R code: interrupted");
    case 2:
        throw error("parse R code: " +
                    std::string(CHAR(STRING_ELT(detail, 0))));
    case 3:
        throw error("evaluate R code: " +
                    std::string(CHAR(STRING_ELT(detail, 0))));
    }
    return Rcpp::RObject(detail);
}

} // namespace host
} // namespace mirai
