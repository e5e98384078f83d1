// An idle daemon costs its resident set for as long as it waits, so
// start-up leaves as little behind in malloc's and R's heaps as it can.
// The numbers below are VmRSS medians on Debian 12 (R 4.2.2, RInside
// 0.2.18, glibc 2.36), 4 daemons each after one task unless stated.
#include "worker/detail/startup_memory.hpp"

#include "dispatcher/log.h"
#include "sync/r.hpp"

#include <malloc.h>

namespace mirai {
namespace worker {
namespace detail {

namespace {

// glibc's initial mmap threshold. Blocks this large or larger get their
// own mapping, which free() returns to the system at once.
constexpr int mmap_threshold_bytes = 128 * 1024;

} // namespace

// By default glibc raises the mmap threshold, up to 32 MB, each time a
// mapped block is freed. Later blocks of that size come from the heap or
// a thread's arena and stay resident after free(), so task payloads of a
// few MB stay in an idle daemon. Setting the threshold turns that
// adjustment off. After 40 tasks of 2 MB on 2 daemons, the median was
// 154 MB resident with the default and 143 MB with the threshold fixed.
void set_malloc_options() noexcept
{
    if (mallopt(M_MMAP_THRESHOLD, mmap_threshold_bytes) != 1) {
        dsp_log(DSP_LOG_WARN, "WORKER-MALLOC-OPTION",
            "set malloc option M_MMAP_THRESHOLD to %d: rejected",
            mmap_threshold_bytes);
    }
}

// R frees empty pages of its small-object heap only in every second full
// collection (TryToReleasePages in R 4.2's memory.c), so one of two
// collections in a row does. One collection left 62.6 MB resident and
// two leave 56.4 MB. malloc_trim() then returns the free heap pages to
// the system.
//
// NOTE: RInside 0.2.18 calls R_SetParams() after R has started, so R takes
// the default vsize (64 MB, in bytes) as a count of 8-byte cells and
// collects vectors only after 512 MB. Resetting it here made a latent
// race fatal more often: a collection outside the evaluator's guard, with
// a cancel's interrupt pending, jumps to R's top level and halts R.
void release_startup_memory()
{
    R_gc();
    R_gc();
    malloc_trim(0);
}

} // namespace detail
} // namespace worker
} // namespace mirai
