// R serialization into caller-owned memory: version 3, native binary
// format (not XDR), sized first so that a payload is written once,
// straight into its destination buffer. Vectors of 1 MB or more in the
// object, or in its lists, travel beside R's stream (out of band), so
// that the receiver can use them without a copy.
//
// All functions call the R API and must run on R's thread.
#pragma once

#include "sync/r.hpp"

#include <cstddef>
#include <memory>

namespace mirai {
namespace sync {

// receiver_offset, in the functions below, is the address at which the
// receiver will find the payload, modulo 16, when known. Out-of-band
// buffers are placed to be 16-byte aligned there, so that the receiver
// can use them in place. The default suits a payload read from
// 16-byte-aligned memory. Other values only cost the receiver a copy.

// The exact number of bytes serialize_to will write for object. Throws
// std::runtime_error when R cannot serialize the object.
std::size_t serialized_size(SEXP object, std::size_t receiver_offset = 0);

// Serialize object into out, which has exactly len bytes (the value of
// serialized_size). Throws std::runtime_error on an R error or when the
// sizes disagree.
void serialize_to(SEXP object, void* out, std::size_t len,
                  std::size_t receiver_offset = 0);

// Serialize object into out, which has capacity bytes, and return the
// exact serialized size. out contains the whole serialization only when
// the size is at most capacity. So a caller can try a small buffer first
// and size a buffer for a second pass (serialize_to) only when the object
// does not fit, which makes one pass of R_Serialize instead of two for a
// small task. Throws like serialize_to.
std::size_t serialize_up_to(SEXP object, void* out, std::size_t capacity,
                            std::size_t receiver_offset = 0);

// Rebuild an object from bytes made by serialize_to. Throws
// std::runtime_error with R's message for malformed input.
//
// owner, when given, owns the memory at data and lets R write into it.
// Large vectors that travelled out of band may then borrow that memory
// instead of being copied, and keep owner alive as long as they live.
// They do so only when they make up at least half of the payload, so
// that little else is kept alive with them.
Rcpp::RObject unserialize(const void* data, std::size_t len,
                          std::shared_ptr<const void> owner = nullptr);

// Run R's garbage collector when vectors have borrowed received payloads
// since the last collection, so that the memory of payloads no longer in
// use goes back to the system. Returns true when it collected. A daemon
// calls it when idle. Throws std::runtime_error when the collection
// fails.
bool release_borrowed_payloads();

// True when vectors have borrowed received payloads since the last
// collection, so that release_borrowed_payloads() would collect.
bool has_unreleased_payloads();

} // namespace sync
} // namespace mirai
