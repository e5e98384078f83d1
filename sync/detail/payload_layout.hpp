// payload_layout: a payload that carries large vectors beside R's
// serialization stream instead of inside it, so that the receiver can use
// their bytes where they arrived.
//
//   offset 0   8-byte magic "MIRAIOB1" (R's own streams start with 'A',
//              'B', 'X' or '\n', so the two never collide)
//   offset 8   stream length (uint64, native byte order)
//   offset 16  the R serialization stream
//   then       a table: the buffer count, the bias, and for each buffer
//              its offset and length (uint64 each)
//   then       each buffer, at the first offset after the end of the one
//              before it (or of the table) that is bias more than a
//              multiple of 64 from the payload's start. The last buffer
//              ends the payload.
//
// The bias lets a sender place the buffers for the receiver's alignment
// of the payload, which may differ from its own.
//
// The stream refers to buffer i by its index. Everything here is plain
// C++ and does not call R.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mirai {
namespace sync {
namespace detail {

// One buffer of a payload: where it starts, counted from the payload's
// first byte, and how many bytes it has.
struct payload_buffer {
    std::size_t offset;
    std::size_t length;
};

// The parts of a payload in this layout.
struct payload_parts {
    std::size_t stream_offset = 0;
    std::size_t stream_length = 0;
    std::size_t bias = 0; // below payload_buffer_alignment
    std::vector<payload_buffer> buffers;
};

// Buffers start at multiples of this many bytes plus the bias, so that a
// vector of any atomic type is aligned where the payload's address plus
// the bias is a multiple of 64.
constexpr std::size_t payload_buffer_alignment = 64;

// The bytes before the stream: the magic and the stream length.
constexpr std::size_t payload_prefix_size = 16;

// True when data, of len bytes, starts with this layout's magic.
bool has_payload_layout(const void* data, std::size_t len);

// Place a stream of stream_length bytes and buffers of the given lengths,
// with the given bias (taken modulo payload_buffer_alignment). Throws
// std::length_error when the total would not fit in a size_t.
payload_parts plan_payload(std::size_t stream_length,
                           const std::vector<std::size_t>& lengths,
                           std::size_t bias);

// The total size of a payload with these parts.
std::size_t payload_size(const payload_parts& parts);

// Write the magic, the stream length and the table of parts into payload,
// which has payload_size(parts) bytes. The stream and the buffers' bytes
// are the caller's to write.
void write_payload_layout(unsigned char* payload, const payload_parts& parts);

// Read the parts of a payload of len bytes into parts. Returns an empty
// string when they are consistent, and otherwise what is wrong, naming
// the offending field and value.
std::string read_payload_layout(const unsigned char* payload,
                                std::size_t len, payload_parts& parts);

} // namespace detail
} // namespace sync
} // namespace mirai
