/* Deadlines for pthread_cond_timedwait on CLOCK_MONOTONIC conditions. */
#pragma once

#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A deadline timeout_ms (0 or more) from now on CLOCK_MONOTONIC. */
struct timespec dsp__deadline_after(int timeout_ms);

#ifdef __cplusplus
}
#endif
