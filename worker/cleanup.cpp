#include "worker/detail/cleanup.hpp"

#include "dispatcher/log.h"
#include "sync/detail/guard.hpp"

#include <exception>

namespace mirai {
namespace worker {
namespace detail {

namespace {

// Bindings are kept by reference, so a snapshot copies no data. Each
// removal, assignment, detach and options reset runs under try(), so one
// entry that cannot be restored (a locked binding) does not stop the
// others.
const char* const state_source = R"R_SOURCE(
list(
snapshot = function() {
    g <- as.list(.GlobalEnv, all.names = TRUE)
    g[[".Random.seed"]] <- NULL
    # .Options is R's own list of options: reading it skips the sorted
    # copy that options() makes, which dominated cleanup's cost per task.
    list(globals = g, search = search(), options = as.list(.Options))
},
restore = function(saved) {
    # Most tasks change nothing: each part is compared first (identical()
    # returns at once for the same objects) and restored only if changed.
    g <- as.list(.GlobalEnv, all.names = TRUE)
    g[[".Random.seed"]] <- NULL
    if (!identical(g, saved$globals)) {
        extra <- setdiff(names(g), names(saved$globals))
        try(rm(list = extra, envir = .GlobalEnv), silent = TRUE)
        for (name in names(saved$globals))
            try(assign(name, saved$globals[[name]], envir = .GlobalEnv),
                silent = TRUE)
    }
    if (!identical(search(), saved$search)) {
        for (name in rev(setdiff(search(), saved$search))) {
            pos <- match(name, search())
            if (!is.na(pos))
                try(detach(pos = pos), silent = TRUE)
        }
    }
    now <- as.list(.Options)
    if (!identical(now, saved$options)) {
        added <- setdiff(names(now), names(saved$options))
        if (length(added))
            options(stats::setNames(vector("list", length(added)), added))
        try(options(saved$options), silent = TRUE)
    }
    invisible(NULL)
}
)
)R_SOURCE";

Rcpp::List load_helpers()
{
    Rcpp::Function parse("parse");
    Rcpp::Function eval("eval");
    Rcpp::Environment base = Rcpp::Environment::base_env();
    Rcpp::Function new_env("new.env");
    Rcpp::RObject env = new_env(Rcpp::Named("parent") = base);
    return eval(parse(Rcpp::Named("text") = state_source), env);
}

} // namespace

r_state_keeper::r_state_keeper() : helpers_(load_helpers())
{
}

void r_state_keeper::snapshot()
{
    try {
        // sync's cheap guard: Rcpp::Function's own costs about 15 us a call,
        // and this runs after every task.
        saved_ = sync::detail::guarded_call_fast(helpers_["snapshot"], {});
    } catch (const std::exception& e) {
        dsp_log(DSP_LOG_WARN, "WORKER-CLEANUP-FAILED",
            "record R state for cleanup: %s", e.what());
    }
}

void r_state_keeper::restore()
{
    if (saved_.isNULL()) {
        return;
    }
    try {
        sync::detail::guarded_call_fast(helpers_["restore"], {saved_});
    } catch (const std::exception& e) {
        dsp_log(DSP_LOG_WARN, "WORKER-CLEANUP-FAILED",
            "restore R state after a task: %s", e.what());
    }
}

} // namespace detail
} // namespace worker
} // namespace mirai
