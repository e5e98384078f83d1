#include "dispatcher/batch_frame.h"

#include "dispatcher/wire.h"

#include <string.h>

nng_msg *
dsp_batch_frame(nng_msg *const *frames, size_t count, size_t bytes)
{
    nng_msg *batch;
    if (count == 0 || nng_msg_alloc(&batch, DSP_HEADER_SIZE + bytes) != 0) {
        return NULL;
    }
    unsigned char *out = nng_msg_body(batch);
    uint64_t first_id =
        dsp__get_u64((const unsigned char *) nng_msg_body(frames[0]) + 8);
    dsp_wire_encode(out, DSP_FRAME_BATCH, first_id, (uint32_t) count, bytes);
    out += DSP_HEADER_SIZE;
    for (size_t i = 0; i < count; i++) {
        memcpy(out, nng_msg_body(frames[i]), nng_msg_len(frames[i]));
        out += nng_msg_len(frames[i]);
    }
    return batch;
}
