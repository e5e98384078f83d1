// Releasing large payloads off R's thread. Returning a 100 MB message to
// the kernel (munmap) took 3 to 7 ms under strace on a 2-core Debian 12
// VM. On R's thread that time would land in whatever R allocation
// happened to start the collection that finalized the payload.
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
