/*
 * Building a batch frame (dispatcher/wire.h) out of complete frames. The
 * dispatcher batches task frames and a daemon batches result frames.
 */
#pragma once

#include <stddef.h>

#include <nng/nng.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Return a new batch frame that contains copies of the count frames, in
 * order, whose lengths add up to bytes. Its id is the first frame's.
 * Returns NULL when count is 0 or NNG cannot allocate the message.
 */
nng_msg *dsp_batch_frame(nng_msg *const *frames, size_t count, size_t bytes);

#ifdef __cplusplus
}
#endif
