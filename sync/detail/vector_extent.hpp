// vector_extent: the size of each large atomic vector that R unserializes,
// worked out from the reads R makes of the stream, so that the vector's
// pages can be mapped in one system call before the data is copied in.
//
// R's unserialize (serialize.c, R 4.2) reads an atomic vector in three
// steps. It reads the flags and the length as 4-byte integers, where a
// long length is -1 followed by two halves. It allocates the vector. Then
// it reads the data straight into the vector in chunks of 8096 elements.
// So the first chunk of a vector of at least 8096 elements follows the
// length at once, and the chunk's size gives the element size. A stream
// that does not look like this gets no extent, which costs only speed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mirai {
namespace sync {
namespace detail {

// The elements per chunk of R_Unserialize's vector reads (R 4.2).
constexpr std::size_t r_chunk_elements = 8096;

class vector_extent {
public:
    // Record a read of n bytes whose content is now at data. Call it for
    // every read, in order.
    void note_read(const void* data, std::size_t n)
    {
        if (n != sizeof(std::int32_t)) {
            int_reads_ = 0;
            return;
        }
        ints_[0] = ints_[1];
        ints_[1] = ints_[2];
        std::memcpy(&ints_[2], data, sizeof(std::int32_t));
        int_reads_ += int_reads_ < 3 ? 1 : 0;
    }

    // The size in bytes of the vector whose data starts with the read of
    // n bytes about to be made, or 0 when that read does not start the
    // data of a vector of at least r_chunk_elements elements.
    std::size_t bytes_of_vector_at(std::size_t n) const
    {
        if (n == 0 || n % r_chunk_elements != 0 || int_reads_ == 0) {
            return 0;
        }
        std::size_t element = n / r_chunk_elements;
        if (element != 1 && element != 4 && element != 8 && element != 16) {
            return 0;
        }
        std::uint64_t length = stored_length();
        if (length < r_chunk_elements || length > max_elements / element) {
            return 0;
        }
        return static_cast<std::size_t>(length) * element;
    }

private:
    // A bound that keeps length * element far from overflow.
    static constexpr std::uint64_t max_elements = std::uint64_t(1) << 56;

    std::uint64_t stored_length() const
    {
        if (int_reads_ == 3 && ints_[0] == -1) {
            return (std::uint64_t(std::uint32_t(ints_[1])) << 32) |
                   std::uint32_t(ints_[2]);
        }
        return ints_[2] < 0 ? 0 : std::uint64_t(ints_[2]);
    }

    std::int32_t ints_[3] = {0, 0, 0}; // the last 4-byte reads, oldest first
    int int_reads_ = 0; // how many of them came in a row, at most 3
};

} // namespace detail
} // namespace sync
} // namespace mirai
