// Helpers shared by the serialization tests.
#pragma once

#include "sync/serialize.hpp"

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace mirai {
namespace test {

// object serialized with sync's serialize_to, in a buffer of its own.
inline std::vector<unsigned char> to_bytes(SEXP object)
{
    std::vector<unsigned char> bytes(sync::serialized_size(object));
    sync::serialize_to(object, bytes.data(), bytes.size());
    return bytes;
}

// True when R finds a and b identical.
inline bool r_identical(SEXP a, SEXP b)
{
    return R_compute_identical(a, b, 16);
}

// The message of the std::runtime_error that unserialize throws, or
// "no error".
inline std::string unserialize_error(const void* data, std::size_t len)
{
    try {
        sync::unserialize(data, len);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "no error";
}

inline std::string unserialize_error(const std::vector<unsigned char>& bytes)
{
    return unserialize_error(bytes.data(), bytes.size());
}

} // namespace test
} // namespace mirai
