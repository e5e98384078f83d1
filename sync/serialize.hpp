// R serialization into caller-owned memory: version 3, native binary
// format (not XDR), sized first so that a payload is written once,
// straight into its destination buffer.
//
// All functions call the R API and must run on R's thread.
#pragma once

#include "sync/r.hpp"

#include <cstddef>

namespace mirai {
namespace sync {

// The exact number of bytes serialize_to will write for object. Throws
// std::runtime_error when R cannot serialize the object.
std::size_t serialized_size(SEXP object);

// Serialize object into out, which has exactly len bytes (the value of
// serialized_size). Throws std::runtime_error on an R error or when the
// sizes disagree.
void serialize_to(SEXP object, void* out, std::size_t len);

// Serialize object into out, which has capacity bytes, and return the
// exact serialized size. out contains the whole serialization only when
// the size is at most capacity. So a caller can try a small buffer first
// and size a buffer for a second pass (serialize_to) only when the object
// does not fit, which makes one pass of R_Serialize instead of two for a
// small task. Throws like serialize_to.
std::size_t serialize_up_to(SEXP object, void* out, std::size_t capacity);

// Rebuild an object from bytes made by serialize_to. Throws
// std::runtime_error with R's message for malformed input.
Rcpp::RObject unserialize(const void* data, std::size_t len);

} // namespace sync
} // namespace mirai
