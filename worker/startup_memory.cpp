// An idle daemon costs its resident set for as long as it waits, so
// start-up leaves as little behind in malloc's and R's heaps as it can.
// The numbers below are VmRSS medians on Debian 12 (R 4.2.2, RInside
// 0.2.18, glibc 2.36), 4 daemons each after one task unless stated.
#include "worker/detail/startup_memory.hpp"

#include "dispatcher/log.h"
#include "sync/r.hpp"

// R_SetParams() and friends; sync/r.hpp leaves R's start-up API out.
#include <R_ext/RStartup.h>

#include <malloc.h>

namespace mirai {
namespace worker {
namespace detail {

namespace {

// glibc's initial mmap threshold. Blocks this large or larger get their
// own mapping, which free() returns to the system at once.
constexpr int mmap_threshold_bytes = 128 * 1024;

// R counts the vector heap in cells of 8 bytes (VECREC in R's memory.c).
constexpr R_SIZE_T vector_cell_bytes = 8;

// Run a full collection through R's gc() and return the trigger for cons
// cells (R_NSize, which R's API does not export) that it reports.
R_SIZE_T collect_and_read_cons_trigger()
{
    Rcpp::Function gc("gc", R_BaseEnv);
    Rcpp::NumericMatrix usage = gc();
    return static_cast<R_SIZE_T>(usage(0, 2)); // row Ncells, "gc trigger"
}

// RInside 0.2.18 calls R_SetParams() after R has started, so R reads the
// default vsize, given in bytes, as a count of 8-byte vector cells. R then
// collects vectors only after 512 MB instead of 64 MB (shrinking by a
// fifth per full collection), and an idle daemon keeps up to that much
// garbage from its last tasks. This call repeats RInside's settings with
// two changes. The vsize is converted to cells, with R_VSIZE from the
// environment honoured. The nsize stays at the trigger R has grown to,
// because a trigger below the cons cells in use makes R fail with "cons
// memory exhausted".
void restore_vector_trigger(R_SIZE_T cons_trigger)
{
    structRstart params;
    R_DefParams(&params);
    R_SizeFromEnv(&params);
    params.R_Interactive = R_Interactive;
    params.R_NoEcho = R_NoEcho;
    params.vsize = params.vsize / vector_cell_bytes;
    params.nsize = cons_trigger;
    R_SetParams(&params);
}

} // namespace

// By default glibc raises the mmap threshold, up to 32 MB, each time a
// mapped block is freed. Later blocks of that size come from the heap or
// a thread's arena and stay resident after free(), so task payloads of a
// few MB stay in an idle daemon. Setting the threshold turns that
// adjustment off. After 40 tasks of 2 MB on 2 daemons, the median was
// 127 MB resident with the default and 95 MB with the threshold fixed.
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
void release_startup_memory()
{
    restore_vector_trigger(collect_and_read_cons_trigger());
    R_gc();
    malloc_trim(0);
}

} // namespace detail
} // namespace worker
} // namespace mirai
