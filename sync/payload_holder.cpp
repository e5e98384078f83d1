// Payload holders and the accounting of borrowed payload memory. See
// sync/detail/payload_holder.hpp.
#include "sync/detail/payload_holder.hpp"

#include "sync/detail/background_release.hpp"
#include "sync/detail/guard.hpp"
#include "sync/serialize.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mirai {
namespace sync {
namespace detail {
namespace {

constexpr std::size_t min_budget_bytes = std::size_t(512) << 20;

// R's thread only, like every finalizer.
std::size_t live_bytes = 0;
std::size_t budget_bytes = min_budget_bytes;
bool has_borrowed_since_collection = false;

void release_holder(SEXP pointer)
{
    auto* payload = static_cast<held_payload*>(R_ExternalPtrAddr(pointer));
    R_ClearExternalPtr(pointer);
    if (payload == nullptr)
        return;
    live_bytes -= std::min(live_bytes, payload->bytes);
    release_in_background(std::move(payload->owner));
    delete payload;
}

SEXP run_collection(void*)
{
    R_gc();
    return R_NilValue;
}

// A full collection, after which the budget follows what survived.
void collect()
{
    has_borrowed_since_collection = false;
    try {
        guarded_fast(run_collection, nullptr);
    } catch (const r_failure& e) {
        throw std::runtime_error(std::string("collect garbage: ") + e.what());
    }
    budget_bytes = std::max(min_budget_bytes, 2 * live_bytes);
}

} // namespace

SEXP make_payload_holder(held_payload* payload)
{
    SEXP holder = PROTECT(R_MakeExternalPtr(payload, R_NilValue, R_NilValue));
    R_RegisterCFinalizerEx(holder, release_holder, FALSE);
    live_bytes += payload->bytes;
    has_borrowed_since_collection = true;
    UNPROTECT(1);
    return holder;
}

void collect_before_borrowing(std::size_t bytes)
{
    if (live_bytes + bytes > budget_bytes)
        collect();
}

std::size_t borrowed_payload_bytes()
{
    return live_bytes;
}

} // namespace detail

bool has_unreleased_payloads()
{
    return detail::has_borrowed_since_collection;
}

bool release_borrowed_payloads()
{
    if (!detail::has_borrowed_since_collection)
        return false;
    detail::collect();
    return true;
}

} // namespace sync
} // namespace mirai
