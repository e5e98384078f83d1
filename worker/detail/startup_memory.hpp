// Start-up settings that keep an idle daemon's resident set small: how
// malloc returns large blocks, R's collection trigger for vectors, and
// what R's start-up leaves in the heap.
#pragma once

namespace mirai {
namespace worker {
namespace detail {

// Fix malloc's mmap threshold at its initial 128 KiB. Call from main()
// before any thread starts.
void set_malloc_options() noexcept;

// Reset R's collection trigger for vectors to the value R starts with
// (64 MB, or R_VSIZE from the environment), collect R's garbage and
// return the freed heap pages to the system. Call on the R thread after
// the reply to the daemon's first frame, so that it does not delay it.
void release_startup_memory();

} // namespace detail
} // namespace worker
} // namespace mirai
