// The payload layout with buffers beside the stream: planning, writing
// and checked reading. See sync/detail/payload_layout.hpp for the format.
#include "sync/detail/payload_layout.hpp"

#include <cstring>
#include <limits>
#include <stdexcept>

namespace mirai {
namespace sync {
namespace detail {
namespace {

constexpr char magic[8] = {'M', 'I', 'R', 'A', 'I', 'O', 'B', '1'};

constexpr std::size_t size_max = std::numeric_limits<std::size_t>::max();

// a + b, or size_max when the sum does not fit.
std::size_t add_saturated(std::size_t a, std::size_t b)
{
    return a > size_max - b ? size_max : a + b;
}

// The first offset from n on that is bias more than a multiple of
// payload_buffer_alignment, or size_max.
std::size_t align_up(std::size_t n, std::size_t bias)
{
    if (n < bias)
        return bias;
    std::size_t rounded =
        add_saturated(n - bias, payload_buffer_alignment - 1);
    if (rounded == size_max)
        return size_max;
    return add_saturated(
        rounded / payload_buffer_alignment * payload_buffer_alignment, bias);
}

// The end of the table of a payload with count buffers whose stream ends
// at stream_end, or size_max.
std::size_t table_end(std::size_t stream_end, std::size_t count)
{
    std::size_t entries = count > size_max / 16 ? size_max : count * 16;
    return add_saturated(add_saturated(stream_end, 16), entries);
}

void put_u64(unsigned char* at, std::uint64_t value)
{
    std::memcpy(at, &value, sizeof value);
}

std::uint64_t get_u64(const unsigned char* at)
{
    std::uint64_t value;
    std::memcpy(&value, at, sizeof value);
    return value;
}

std::string describe_buffer(std::size_t index, std::uint64_t offset,
                            std::uint64_t length)
{
    return "buffer " + std::to_string(index) + " at offset " +
           std::to_string(offset) + " with " + std::to_string(length) +
           " bytes";
}

} // namespace

bool has_payload_layout(const void* data, std::size_t len)
{
    return len >= payload_prefix_size &&
           std::memcmp(data, magic, sizeof magic) == 0;
}

payload_parts plan_payload(std::size_t stream_length,
                           const std::vector<std::size_t>& lengths,
                           std::size_t bias)
{
    payload_parts parts;
    parts.stream_offset = payload_prefix_size;
    parts.stream_length = stream_length;
    parts.bias = bias % payload_buffer_alignment;
    std::size_t end = table_end(
        add_saturated(payload_prefix_size, stream_length), lengths.size());
    for (std::size_t length : lengths) {
        std::size_t offset = align_up(end, parts.bias);
        end = add_saturated(offset, length);
        if (end == size_max)
            throw std::length_error(
                "payload with out-of-band buffers is too large");
        parts.buffers.push_back({offset, length});
    }
    return parts;
}

std::size_t payload_size(const payload_parts& parts)
{
    if (!parts.buffers.empty()) {
        const payload_buffer& last = parts.buffers.back();
        return last.offset + last.length;
    }
    return table_end(parts.stream_offset + parts.stream_length, 0);
}

void write_payload_layout(unsigned char* payload, const payload_parts& parts)
{
    std::memcpy(payload, magic, sizeof magic);
    put_u64(payload + 8, parts.stream_length);
    unsigned char* table = payload + parts.stream_offset + parts.stream_length;
    put_u64(table, parts.buffers.size());
    put_u64(table + 8, parts.bias);
    for (std::size_t i = 0; i < parts.buffers.size(); i++) {
        put_u64(table + 16 + 16 * i, parts.buffers[i].offset);
        put_u64(table + 24 + 16 * i, parts.buffers[i].length);
    }
}

std::string read_payload_layout(const unsigned char* payload,
                                std::size_t len, payload_parts& parts)
{
    if (!has_payload_layout(payload, len))
        return "missing the out-of-band layout's magic";
    std::uint64_t stream_length = get_u64(payload + 8);
    if (stream_length > len - payload_prefix_size ||
        len - payload_prefix_size - stream_length < 16)
        return "stream length " + std::to_string(stream_length) +
               " leaves no room for the buffer table in " +
               std::to_string(len) + " bytes";
    std::size_t table = payload_prefix_size + stream_length;
    std::uint64_t count = get_u64(payload + table);
    if (count > (len - table - 16) / 16)
        return "buffer count " + std::to_string(count) + " does not fit " +
               std::to_string(len - table - 16) + " bytes after the stream";
    std::uint64_t bias = get_u64(payload + table + 8);
    if (bias >= payload_buffer_alignment)
        return "buffer bias " + std::to_string(bias) + " is not below " +
               std::to_string(payload_buffer_alignment);

    parts.stream_offset = payload_prefix_size;
    parts.stream_length = stream_length;
    parts.bias = bias;
    parts.buffers.clear();
    std::size_t end = table_end(table, count);
    for (std::size_t i = 0; i < count; i++) {
        std::uint64_t offset = get_u64(payload + table + 16 + 16 * i);
        std::uint64_t length = get_u64(payload + table + 24 + 16 * i);
        std::size_t expected = align_up(end, parts.bias);
        if (offset != expected || offset > len || length > len - offset)
            return describe_buffer(i, offset, length) + " is out of place: "
                   "expected offset " + std::to_string(expected) +
                   " and an end within " + std::to_string(len) + " bytes";
        parts.buffers.push_back({offset, length});
        end = offset + length;
    }
    if (end != len)
        return std::to_string(len - end) +
               " bytes follow the end of the out-of-band layout";
    return "";
}

} // namespace detail
} // namespace sync
} // namespace mirai
