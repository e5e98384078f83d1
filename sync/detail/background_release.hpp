// Releasing large payloads off R's thread. Returning 100 MB of fresh
// memory to the kernel takes tens of milliseconds (munmap of populated
// pages), which would otherwise land in whatever R allocation happened
// to run the garbage collector that finalized the payload.
#pragma once

#include <memory>

namespace mirai {
namespace sync {
namespace detail {

// Drop owner on a background thread, which is started on first use and
// lives until the process ends. Releases owner at once, on the calling
// thread, when no thread or queue memory can be had. Any thread.
void release_in_background(std::shared_ptr<const void> owner) noexcept;

} // namespace detail
} // namespace sync
} // namespace mirai
