// Borrowed vectors: R atomic vectors (ALTREP) whose elements live in
// memory that another object owns, such as the NNG message a payload
// arrived in. They let a large vector move between processes with one
// copy on the sending side and none on the receiving side.
//
// A borrowed vector behaves like an ordinary one in R code. R writes to
// its memory in place only when the vector is not shared, as for any
// vector, and duplicates copy it into ordinary memory.
//
// While serialize() in sync/serialize.cpp runs, it installs a
// buffer_sink: a borrowed vector met by R's serializer then becomes a
// reference to an out-of-band buffer of the payload instead of a run of
// bytes in the stream. While unserialize() runs, a buffer_source turns
// such references back into vectors. With neither installed (saveRDS()
// and R's serialize() in user code), a borrowed vector is written as an
// ordinary vector.
//
// Everything here calls the R API and must run on R's thread.
#pragma once

#include "sync/r.hpp"

#include <cstddef>

namespace mirai {
namespace sync {
namespace detail {

// The size of one element of an atomic vector type that can be borrowed
// (logical, integer, double, complex, raw), or 0 for any other type.
std::size_t borrowable_element_size(SEXPTYPE type);

// Register the ALTREP classes. Safe to call more than once. Call it before
// the first serialization or unserialization, because R cannot read a
// borrowed vector's reference without its class.
void register_borrowed_vectors();

// A vector of type and length whose elements start at data, which stays
// valid as long as owner is reachable. data must be aligned for type.
// May raise an R error (out of memory).
SEXP make_borrowed_vector(SEXPTYPE type, void* data, R_xlen_t length,
                          SEXP owner);

// True when x is a borrowed vector.
bool is_borrowed_vector(SEXP x);

// The receiver of out-of-band buffers while R serializes.
class buffer_sink {
public:
    // Record a buffer of bytes at data for the payload and return its
    // index, or -1 when it cannot be recorded (then R writes the vector
    // into the stream). Called from R's serializer, so it must not throw.
    virtual int add(const void* data, std::size_t bytes) noexcept = 0;

protected:
    ~buffer_sink() = default;
};

// The supplier of out-of-band buffers while R unserializes.
class buffer_source {
public:
    // Build the vector of type and length stored in buffer index. Raises
    // an R error, naming the index, when the buffer does not exist, was
    // taken before or does not have the size of length elements of type.
    // Called from R's unserializer, so it must not throw and must not hold
    // C++ objects with destructors when it raises.
    virtual SEXP take(int index, SEXPTYPE type, R_xlen_t length) = 0;

protected:
    ~buffer_source() = default;
};

// Install sink for the calling thread until the returned guard ends.
class scoped_buffer_sink {
public:
    explicit scoped_buffer_sink(buffer_sink* sink);
    ~scoped_buffer_sink();
    scoped_buffer_sink(const scoped_buffer_sink&) = delete;
    scoped_buffer_sink& operator=(const scoped_buffer_sink&) = delete;

private:
    buffer_sink* previous_;
};

// Install source for the calling thread until the returned guard ends.
class scoped_buffer_source {
public:
    explicit scoped_buffer_source(buffer_source* source);
    ~scoped_buffer_source();
    scoped_buffer_source(const scoped_buffer_source&) = delete;
    scoped_buffer_source& operator=(const scoped_buffer_source&) = delete;

private:
    buffer_source* previous_;
};

} // namespace detail
} // namespace sync
} // namespace mirai
