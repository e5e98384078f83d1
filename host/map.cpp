// mirai_map(): one task per element or data frame row.
#include "host/map.hpp"

#include "host/detail/profile.hpp"
#include "host/detail/r_code.hpp"
#include "host/detail/task_options.hpp"
#include "host/error.hpp"
#include "host/session.hpp"
#include "sync/evaluator.hpp"

namespace mirai {
namespace host {

namespace {

// A parsed R object kept for the life of the process. It is preserved and
// never released, so no destructor touches R after R has shut down.
SEXP preserved_code(const char* code)
{
    SEXP object = detail::parse_code(code);
    R_PreserveObject(object);
    return object;
}

SEXP element_call()
{
    static SEXP call = preserved_code("do.call(.f, c(list(.x), .args))");
    return call;
}

SEXP row_call()
{
    static SEXP call = preserved_code("do.call(.f, c(.x, .args))");
    return call;
}

// Split x into the items of the map: the elements of a vector or list, or
// for a data frame or a matrix, one list of column values per row.
Rcpp::List split_input(SEXP x)
{
    static SEXP splitter = [] {
        SEXP f = detail::eval_function(
            "function(x) if (is.data.frame(x)) lapply(seq_len(nrow(x)), "
            "function(i) lapply(x, `[`, i)) else if (is.matrix(x)) "
            "lapply(seq_len(nrow(x)), function(i) as.list(x[i, ])) "
            "else as.list(x)");
        R_PreserveObject(f);
        return f;
    }();
    Rcpp::Function split(splitter);
    try {
        return split(x);
    } catch (const std::exception& e) {
        throw error(std::string("map: split input: ") + e.what());
    }
}

void check_input(SEXP x)
{
    if (!Rf_isVectorAtomic(x) && TYPEOF(x) != VECSXP) {
        throw error(std::string("map: expected a vector, a list, a matrix "
                                "or a data frame, got ") +
                    Rf_type2char(TYPEOF(x)));
    }
}

bool is_by_row(SEXP x)
{
    return Rf_isFrame(x) || Rf_isMatrix(x);
}

} // namespace

map_result::map_result(std::vector<handle> tasks, Rcpp::RObject names)
    : tasks_(std::move(tasks)), names_(std::move(names))
{
}

Rcpp::List map_result::collect() const
{
    Rcpp::List out(tasks_.size());
    for (std::size_t i = 0; i < tasks_.size(); i++) {
        out[i] = tasks_[i].value();
    }
    if (!names_.isNULL()) {
        out.attr("names") = names_;
    }
    return out;
}

Rcpp::List map_result::collect_or_throw() const
{
    Rcpp::List out = collect();
    for (std::size_t i = 0; i < tasks_.size(); i++) {
        if (tasks_[i].is_error()) {
            throw_failure(i);
        }
    }
    return out;
}

map_result mirai_map(SEXP x, const std::string& f, const data& args,
                     const task_options& options)
{
    session::current().require_r_thread("map");
    Rcpp::RObject function = detail::eval_function(f);
    return mirai_map(x, function, args, options);
}

map_result mirai_map(SEXP x, SEXP f, const data& args,
                     const task_options& options)
{
    session& s = session::current();
    s.require_r_thread("map");
    check_input(x);
    if (!Rf_isFunction(f)) {
        throw error(std::string("map: expected a function, got ") +
                    Rf_type2char(TYPEOF(f)));
    }
    detail::check_task_options(options, "map");
    detail::profile& p = s.profiles().get(options.profile);
    Rcpp::List items = split_input(x);
    Rcpp::List extra = to_list(args);
    SEXP call = is_by_row(x) ? row_call() : element_call();
    Rcpp::RObject names = is_by_row(x) ? R_NilValue
                                       : Rf_getAttrib(x, R_NamesSymbol);

    std::vector<handle> tasks;
    tasks.reserve(items.size());
    for (R_xlen_t i = 0; i < items.size(); i++) {
        Rcpp::List values = Rcpp::List::create(Rcpp::Named(".f") = f,
                                               Rcpp::Named(".x") = items[i],
                                               Rcpp::Named(".args") = extra);
        tasks.push_back(p.submit(sync::make_task(call, values),
                                 options.timeout_ms.value_or(0),
                                 options.retries.value_or(-1)));
    }
    return map_result(std::move(tasks), names);
}

} // namespace host
} // namespace mirai
