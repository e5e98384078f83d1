// Interrupting the host's R. R notices R_interrupts_pending at its next
// check, but R blocked in a system call (Sys.sleep, a socket read) only
// gets there when a signal ends the call with EINTR. So an interrupt sets
// the flag and sends SIGINT to R's thread, whose handler (installed
// without SA_RESTART) does the same for a SIGINT from outside. The flag
// is set only while an evaluation_scope is open, and cleared when one
// opens or closes, so an interrupt never leaks into a later evaluation.
#include "host/session.hpp"

#include <RInside.h>

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

} // namespace

void session::install_interrupt_handler()
{
    r_thread_handle = pthread_self();
    struct sigaction action;
    std::memset(&action, 0, sizeof(action));
    action.sa_handler = on_interrupt_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: R's blocked call must fail
    if (sigaction(SIGINT, &action, nullptr) != 0) {
        throw error(std::string("install SIGINT handler: ") +
                    std::strerror(errno));
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
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
    Rcpp::Function parse("parse");
    Rcpp::RObject exprs;
    try {
        exprs = parse(Rcpp::Named("text") = code);
    } catch (const std::exception& e) {
        throw error("parse R code: " + std::string(e.what()));
    }

    // R's own SIGINT handler (set by R_SelectEx inside Sys.sleep) may
    // handle the interrupt, so it is recognised in R: the wrapper returns
    // NULL for an interrupt and list(value) otherwise.
    Rcpp::RObject wrapper = Rcpp::Function("eval")(parse(
        Rcpp::Named("text") =
            "function(expr) tryCatch(list(eval(expr, .GlobalEnv)), "
            "interrupt = function(cond) NULL)"));
    evaluation_scope scope;
    Rcpp::RObject value;
    for (R_xlen_t i = 0; i < Rf_xlength(exprs); i++) {
        Rcpp::RObject quoted(
            Rf_lang2(Rf_install("quote"), VECTOR_ELT(exprs, i)));
        Rcpp::RObject call(Rf_lang2(wrapper, quoted));
        int failed = 0;
        Rcpp::RObject out(R_tryEvalSilent(call, R_GlobalEnv, &failed));
        if (failed) {
            std::string message = R_curErrorBuf();
            while (!message.empty() && message.back() == '\n') {
                message.pop_back();
            }
            throw error("evaluate R code: " + message);
        }
        if (out.isNULL()) {
            throw interrupted("evaluate R code: interrupted");
        }
        value = VECTOR_ELT(out, 0);
    }
    return value;
}

} // namespace host
} // namespace mirai
