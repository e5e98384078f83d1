// Copies of large payloads into fresh memory: the pages are mapped before
// they are written, and big chunks bypass the cache. Plain C++; no R.
#pragma once

#include <cstddef>
#include <vector>

namespace mirai {
namespace sync {
namespace detail {

// Buffers at least this large are populated before they are written.
constexpr std::size_t prefault_min_bytes = 4 << 20;

// Map the pages of a fresh buffer of at least prefault_min_bytes in one
// system call, before a copy writes them. Does nothing for smaller
// buffers and on kernels that reject the advice.
void prefault(void* data, std::size_t len);

// Copy one chunk of n bytes that belongs to a payload of payload_len
// bytes: past the cache when both are large, with memcpy otherwise.
void copy_chunk(void* to, const void* from, std::size_t n,
                std::size_t payload_len);

// One copy of copy_spans().
struct copy_span {
    void* to;
    const void* from;
    std::size_t n;
};

// Populate and fill each span's destination, which is fresh memory. A
// total of at least parallel_copy_min_bytes is split between threads,
// one per core up to 4, because mapping fresh pages costs more than
// copying into them and the page faults of different threads overlap.
void copy_spans(const std::vector<copy_span>& spans);

constexpr std::size_t parallel_copy_min_bytes = 16 << 20;

} // namespace detail
} // namespace sync
} // namespace mirai
