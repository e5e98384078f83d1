// Payload holders: the R objects that keep a received payload alive while
// borrowed vectors use its memory, and the bookkeeping that makes up for
// R's garbage collector not counting that memory.
//
// R starts a collection when its own heap grows, so a loop that only
// receives large borrowed vectors could hold many payloads before R next
// collects. Two rules bound that. unserialize() collects before it
// borrows when live payloads would pass a budget: 512 MB, or twice what
// survived the last such collection. And a daemon calls
// release_borrowed_payloads() when it has no task waiting.
//
// Everything here runs on R's thread, as do R's finalizers.
#pragma once

#include "sync/r.hpp"

#include <cstddef>
#include <memory>

namespace mirai {
namespace sync {
namespace detail {

// A received payload of bytes and the owner of its memory.
struct held_payload {
    std::shared_ptr<const void> owner;
    std::size_t bytes;
};

// An external pointer that owns payload from now on. Its finalizer counts
// the bytes out and releases the owner on a background thread. May raise
// an R error (out of memory), and payload is then not taken.
SEXP make_payload_holder(held_payload* payload);

// Collect garbage first when borrowing bytes more would pass the budget.
// Throws std::runtime_error when R fails to collect.
void collect_before_borrowing(std::size_t bytes);

// The bytes of payloads that borrowed vectors keep alive.
std::size_t borrowed_payload_bytes();

} // namespace detail
} // namespace sync
} // namespace mirai
