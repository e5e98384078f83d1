#include "host/detail/value_cache.hpp"

#include "host/session.hpp"

#include <mutex>
#include <vector>

namespace mirai {
namespace host {
namespace detail {

namespace {

std::mutex deferred_mutex;
std::vector<SEXP> deferred_tokens;

bool on_r_thread()
{
    try {
        return session::current().is_r_thread();
    } catch (...) {
        return false;
    }
}

} // namespace

value_cache::~value_cache()
{
    if (token_ == nullptr) {
        return;
    }
    if (on_r_thread()) {
        Rcpp::Rcpp_precious_remove(token_);
        return;
    }
    std::lock_guard<std::mutex> lock(deferred_mutex);
    deferred_tokens.push_back(token_);
}

void value_cache::store(SEXP value)
{
    if (object != nullptr) {
        return;
    }
    token_ = Rcpp::Rcpp_precious_preserve(value);
    object = value;
}

void release_deferred_objects()
{
    std::vector<SEXP> tokens;
    {
        std::lock_guard<std::mutex> lock(deferred_mutex);
        tokens.swap(deferred_tokens);
    }
    for (SEXP token : tokens) {
        Rcpp::Rcpp_precious_remove(token);
    }
}

} // namespace detail
} // namespace host
} // namespace mirai
