// The large vectors of an object that a payload carries out of band.
//
// R's serializer writes a plain vector into its stream. To send one out of
// band instead, the object is first rebuilt with each large vector
// replaced by a borrowed vector over the same elements (see
// borrowed_vector.hpp), whose serialized form is a reference. Only lists (and expression vectors) are searched, to a
// depth of 4 and through at most 100,000 elements in all. That covers
// a task's data, a data frame's columns and a list of results. A large
// vector elsewhere, such as in an environment, stays in the stream.
//
// Everything here calls the R API and must run on R's thread.
#pragma once

#include "sync/r.hpp"

#include <cstddef>

namespace mirai {
namespace sync {
namespace detail {

// Vectors with at least this many bytes of elements go out of band.
constexpr std::size_t out_of_band_min_bytes = 1 << 20;

// The number of large vectors (and of borrowed vectors of any size)
// within reach in object. Does not allocate.
std::size_t count_large_vectors(SEXP object);

// object with every large vector within reach replaced by a borrowed
// vector over its elements, copying only the lists on the way to one.
// Returns object itself when there is none. The result is not protected.
SEXP lend_large_vectors(SEXP object);

} // namespace detail
} // namespace sync
} // namespace mirai
