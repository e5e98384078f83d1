#include "host/detail/value_cache.hpp"

#include "host/session.hpp"

#include <mutex>
#include <vector>

namespace mirai {
namespace host {
namespace detail {

namespace {

std::mutex deferred_mutex;
std::vector<SEXP> deferred_objects;

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
    if (object == nullptr) {
        return;
    }
    if (on_r_thread()) {
        R_ReleaseObject(object);
        return;
    }
    std::lock_guard<std::mutex> lock(deferred_mutex);
    deferred_objects.push_back(object);
}

void value_cache::store(SEXP value)
{
    if (object != nullptr) {
        return;
    }
    R_PreserveObject(value);
    object = value;
}

void release_deferred_objects()
{
    std::vector<SEXP> objects;
    {
        std::lock_guard<std::mutex> lock(deferred_mutex);
        objects.swap(deferred_objects);
    }
    for (SEXP object : objects) {
        R_ReleaseObject(object);
    }
}

} // namespace detail
} // namespace host
} // namespace mirai
