/*
 * The wire format between the dispatcher and its daemons.
 *
 * Every NNG message is one frame: a fixed 32-byte header followed by the
 * payload. All integers are little-endian. The header is
 *
 *   offset  size  field
 *        0     4  magic, DSP_WIRE_MAGIC
 *        4     2  protocol version, DSP_WIRE_VERSION
 *        6     2  frame type, enum dsp_frame_type
 *        8     8  task id (or setup id for setup frames)
 *       16     4  flags, meaning depends on the type
 *       20     4  reserved, must be 0
 *       24     8  payload length in bytes
 *
 * Payloads of task, setup and result frames are R objects serialized by
 * sync/ (R serialization version 3, native binary). The dispatcher never
 * looks inside them.
 *
 * A hello payload is the daemon's pid as 8 bytes, optionally followed by
 * the most tasks it takes in one batch frame (4 bytes) and 4 reserved zero
 * bytes. A daemon that sends only its pid gets one task at a time.
 *
 * A batch frame carries several complete frames (header and payload each)
 * back to back in its payload; its flags give how many. The dispatcher
 * sends task frames in a batch, and a daemon returns result frames in one.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DSP_WIRE_MAGIC 0x4152494DU /* "MIRA" read as little-endian bytes */
#define DSP_WIRE_VERSION 1
#define DSP_HEADER_SIZE 32
#define DSP_HELLO_SHORT_SIZE 8 /* pid only */
#define DSP_HELLO_SIZE 16      /* pid, largest batch, reserved */
#define DSP_MAX_BATCH 128      /* maximum frames in one batch frame */

/*
 * The address of a received frame's payload, modulo 16. NNG 1.5.2 reads
 * a message into a body that malloc aligned to 16 bytes (after 0 or 32
 * bytes of headroom). Then pair1 trims its 4-byte header off the front,
 * and the 32-byte frame header keeps that offset. Senders pass it to
 * serialization so that large vectors arrive aligned. Measured on the
 * dispatcher's and a daemon's side with glibc 2.36.
 */
#define DSP_RECEIVED_PAYLOAD_OFFSET 4

enum dsp_frame_type {
    DSP_FRAME_TASK = 1,   /* dispatcher to daemon: evaluate and reply */
    DSP_FRAME_RESULT = 2, /* daemon to dispatcher: the result of a task */
    /*
     * Dispatcher to daemon: interrupt task id. Daemon to dispatcher, with
     * the same id: that cancel frame was read, so it no longer takes a
     * place in the dispatcher's send window.
     */
    DSP_FRAME_CANCEL = 3,
    DSP_FRAME_SETUP = 4,  /* both ways: an everywhere() task and its ack */
    DSP_FRAME_EXIT = 5,   /* dispatcher to daemon: exit now; daemon to
                             dispatcher: retire me (a limit was reached),
                             answered with an exit frame */
    DSP_FRAME_HELLO = 6,  /* daemon to dispatcher: first frame, its pid */
    DSP_FRAME_BATCH = 7,  /* both ways: several task or result frames */
    /*
     * Dispatcher to daemon: give back the tasks of a batch not yet
     * started (each comes back as a result flagged DSP_RESULT_RETURNED).
     * Daemon to dispatcher: that recall frame was read.
     */
    DSP_FRAME_RECALL = 8
};

/* Flags of a result frame (and of a setup acknowledgement). */
enum dsp_result_flag {
    DSP_RESULT_VALUE = 0,    /* payload is the value */
    DSP_RESULT_ERROR = 1,    /* payload is an error condition object */
    DSP_RESULT_INTERRUPT = 2, /* payload is an interrupt object */
    DSP_RESULT_RETURNED = 3   /* not evaluated, recalled: no payload */
};

typedef struct dsp_frame_header {
    uint16_t version;
    uint16_t type;
    uint64_t task_id;
    uint32_t flags;
    uint64_t payload_len;
} dsp_frame_header;

static inline void
dsp__put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
}

static inline void
dsp__put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char) (v >> (8 * i));
    }
}

static inline void
dsp__put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char) (v >> (8 * i));
    }
}

static inline uint16_t
dsp__get_u16(const unsigned char *p)
{
    return (uint16_t) (p[0] | (p[1] << 8));
}

static inline uint32_t
dsp__get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static inline uint64_t
dsp__get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Write a header for the given fields into out[0..DSP_HEADER_SIZE). */
static inline void
dsp_wire_encode(unsigned char *out, enum dsp_frame_type type,
    uint64_t task_id, uint32_t flags, uint64_t payload_len)
{
    dsp__put_u32(out, DSP_WIRE_MAGIC);
    dsp__put_u16(out + 4, DSP_WIRE_VERSION);
    dsp__put_u16(out + 6, (uint16_t) type);
    dsp__put_u64(out + 8, task_id);
    dsp__put_u32(out + 16, flags);
    dsp__put_u32(out + 20, 0);
    dsp__put_u64(out + 24, payload_len);
}

/* Result codes of dsp_wire_decode. */
enum dsp_wire_status {
    DSP_WIRE_OK = 0,
    DSP_WIRE_SHORT,       /* fewer bytes than a header */
    DSP_WIRE_BAD_MAGIC,   /* not a frame of this protocol */
    DSP_WIRE_BAD_VERSION, /* another protocol version */
    DSP_WIRE_BAD_TYPE,    /* unknown frame type */
    DSP_WIRE_BAD_RESERVED,
    DSP_WIRE_BAD_LENGTH /* payload length disagrees with the message */
};

/*
 * Check and decode the header of a frame of len bytes. Every field that
 * came from the network is validated; on failure *hdr is unspecified.
 */
static inline enum dsp_wire_status
dsp_wire_decode(const void *frame, size_t len, dsp_frame_header *hdr)
{
    const unsigned char *p = (const unsigned char *) frame;

    if (len < DSP_HEADER_SIZE) {
        return DSP_WIRE_SHORT;
    }
    if (dsp__get_u32(p) != DSP_WIRE_MAGIC) {
        return DSP_WIRE_BAD_MAGIC;
    }
    hdr->version = dsp__get_u16(p + 4);
    if (hdr->version != DSP_WIRE_VERSION) {
        return DSP_WIRE_BAD_VERSION;
    }
    hdr->type = dsp__get_u16(p + 6);
    if (hdr->type < DSP_FRAME_TASK || hdr->type > DSP_FRAME_RECALL) {
        return DSP_WIRE_BAD_TYPE;
    }
    if (dsp__get_u32(p + 20) != 0) {
        return DSP_WIRE_BAD_RESERVED;
    }
    hdr->task_id = dsp__get_u64(p + 8);
    hdr->flags = dsp__get_u32(p + 16);
    hdr->payload_len = dsp__get_u64(p + 24);
    if (hdr->payload_len != (uint64_t) (len - DSP_HEADER_SIZE)) {
        return DSP_WIRE_BAD_LENGTH;
    }
    return DSP_WIRE_OK;
}

/*
 * Read the frame at *offset of a batch payload of len bytes, and move
 * *offset past it. *sub points at the frame's first byte and *sub_len
 * is its size, header included. Returns DSP_WIRE_BAD_LENGTH when the
 * frame runs past the payload.
 */
static inline enum dsp_wire_status
dsp_wire_next_frame(const unsigned char *payload, size_t len, size_t *offset,
    dsp_frame_header *hdr, const unsigned char **sub, size_t *sub_len)
{
    size_t left = len - *offset;
    if (left < DSP_HEADER_SIZE) {
        return DSP_WIRE_SHORT;
    }
    const unsigned char *p = payload + *offset;
    uint64_t payload_len = dsp__get_u64(p + 24);
    if (payload_len > (uint64_t) (left - DSP_HEADER_SIZE)) {
        return DSP_WIRE_BAD_LENGTH;
    }
    size_t size = DSP_HEADER_SIZE + (size_t) payload_len;
    enum dsp_wire_status ws = dsp_wire_decode(p, size, hdr);
    if (ws != DSP_WIRE_OK) {
        return ws;
    }
    *sub = p;
    *sub_len = size;
    *offset += size;
    return DSP_WIRE_OK;
}

/* A short lower-case description of a decode status, for log messages. */
static inline const char *
dsp_wire_strerror(enum dsp_wire_status status)
{
    switch (status) {
    case DSP_WIRE_OK:
        return "ok";
    case DSP_WIRE_SHORT:
        return "frame shorter than its header";
    case DSP_WIRE_BAD_MAGIC:
        return "bad magic number";
    case DSP_WIRE_BAD_VERSION:
        return "unsupported protocol version";
    case DSP_WIRE_BAD_TYPE:
        return "unknown frame type";
    case DSP_WIRE_BAD_RESERVED:
        return "reserved field not zero";
    case DSP_WIRE_BAD_LENGTH:
        return "payload length does not match the frame";
    }
    return "unknown wire status";
}

#ifdef __cplusplus
}
#endif
