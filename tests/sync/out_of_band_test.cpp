// Large vectors beside R's stream: the payload layout they produce,
// borrowed vectors over a received payload, and malformed references.
#include "sync/detail/borrowed_vector.hpp"
#include "sync/detail/payload_holder.hpp"
#include "sync/detail/payload_layout.hpp"
#include "sync/serialize.hpp"
#include "tests/support/r_session.hpp"
#include "tests/sync/serialize_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using mirai::sync::serialize_to;
using mirai::sync::serialized_size;
using mirai::sync::unserialize;
using mirai::sync::detail::is_borrowed_vector;
using mirai::sync::detail::payload_parts;
using mirai::sync::detail::payload_size;
using mirai::sync::detail::plan_payload;
using mirai::sync::detail::read_payload_layout;
using mirai::sync::detail::write_payload_layout;
using mirai::test::r;
using mirai::test::r_identical;
using mirai::test::r_session;
using mirai::test::to_bytes;
using mirai::test::unserialize_error;

namespace {

// A payload in malloc'd memory (16-byte aligned) at offset bytes past
// the start, shared so that it can own its vectors.
struct payload_memory {
    std::shared_ptr<unsigned char> block;
    unsigned char* data;
    std::size_t size;
};

payload_memory serialize_at(SEXP object, std::size_t offset,
                            std::size_t receiver_offset)
{
    std::size_t size = serialized_size(object, receiver_offset);
    auto* block = static_cast<unsigned char*>(std::malloc(size + offset));
    REQUIRE(block != nullptr);
    payload_memory memory{
        std::shared_ptr<unsigned char>(block, std::free), block + offset,
        size};
    serialize_to(object, memory.data, size, receiver_offset);
    return memory;
}

payload_parts parts_of(const std::vector<unsigned char>& payload)
{
    payload_parts parts;
    REQUIRE(read_payload_layout(payload.data(), payload.size(), parts) == "");
    return parts;
}

// payload's stream with buffers of the given lengths, each filled from
// the start of payload's first buffer as far as it reaches.
std::vector<unsigned char> rebuild(const std::vector<unsigned char>& payload,
                                   const std::vector<std::size_t>& lengths)
{
    payload_parts old = parts_of(payload);
    payload_parts parts = plan_payload(old.stream_length, lengths, 0);
    std::vector<unsigned char> out(payload_size(parts));
    write_payload_layout(out.data(), parts);
    std::memcpy(out.data() + parts.stream_offset,
                payload.data() + old.stream_offset, old.stream_length);
    for (const auto& buffer : parts.buffers) {
        std::size_t n = std::min(buffer.length, old.buffers[0].length);
        std::memcpy(out.data() + buffer.offset,
                    payload.data() + old.buffers[0].offset, n);
    }
    return out;
}

bool is_in(const void* pointer, const payload_memory& memory)
{
    auto* p = static_cast<const unsigned char*>(pointer);
    return p >= memory.data && p < memory.data + memory.size;
}

} // namespace

TEST_CASE("large vectors go beside the stream", "[sync][r]")
{
    Rcpp::RObject object = r("list(small = 1:10, big = seq_len(200000) / 3)");
    auto bytes = to_bytes(object);
    REQUIRE(std::memcmp(bytes.data(), "MIRAIOB1", 8) == 0);
    payload_parts parts = parts_of(bytes);
    REQUIRE(parts.buffers.size() == 1);
    CHECK(parts.buffers[0].length == 200000 * sizeof(double));
    CHECK(parts.stream_length < 1000);

    Rcpp::RObject copy = unserialize(bytes.data(), bytes.size());
    REQUIRE(r_identical(object, copy));
    CHECK_FALSE(is_borrowed_vector(VECTOR_ELT(copy, 1)));
}

TEST_CASE("small objects stay plain R streams", "[sync][r]")
{
    for (const char* code : {"1:10", "numeric(131071)",
                             "local({e <- new.env(); e$x <- numeric(2e5); e})",
                             "seq_len(1e6)"}) {
        CAPTURE(code);
        auto bytes = to_bytes(r(code));
        CHECK(bytes[0] == 'B');
        CHECK(bytes[1] == '\n');
    }
}

TEST_CASE("out-of-band vectors keep types and attributes", "[sync][r]")
{
    Rcpp::RObject object = r(
        "n <- 300000; list(d = structure(seq_len(n) / 7, names = NULL,"
        " class = 'Date'), m = matrix(seq_len(n), ncol = 3),"
        " f = factor(rep(c('a', 'b', NA), n / 3)),"
        " r = as.raw(seq_len(4 * n) %% 251),"
        " z = complex(real = seq_len(n), imaginary = -seq_len(n)),"
        " l = rep(c(TRUE, NA, FALSE), n / 3),"
        " df = data.frame(x = seq_len(n) + 0.5, y = rev(seq_len(n))),"
        " nested = list(list(seq_len(n) * 2.5)))");
    payload_memory memory = serialize_at(object, 0, 0);

    Rcpp::RObject copy = unserialize(memory.data, memory.size);
    REQUIRE(r_identical(object, copy));

    Rcpp::RObject borrowed =
        unserialize(memory.data, memory.size, memory.block);
    REQUIRE(r_identical(object, borrowed));
    for (int i = 0; i < 6; i++) {
        CAPTURE(i);
        SEXP element = VECTOR_ELT(borrowed, i);
        REQUIRE(is_borrowed_vector(element));
        CHECK(is_in(DATAPTR(element), memory));
    }
    SEXP df = VECTOR_ELT(borrowed, 6);
    CHECK(is_borrowed_vector(VECTOR_ELT(df, 0)));
    CHECK(is_borrowed_vector(VECTOR_ELT(df, 1)));
    SEXP nested = VECTOR_ELT(VECTOR_ELT(VECTOR_ELT(borrowed, 7), 0), 0);
    CHECK(is_borrowed_vector(nested));
    CHECK(r_identical(r("class(structure(1, class = 'Date'))"),
                      Rf_getAttrib(VECTOR_ELT(borrowed, 0),
                                   R_ClassSymbol)));
}

TEST_CASE("a misaligned payload is copied instead", "[sync][r]")
{
    Rcpp::RObject object = r("list(x = seq_len(200000) / 3)");
    payload_memory aligned_for_4 = serialize_at(object, 4, 4);
    Rcpp::RObject borrowed = unserialize(
        aligned_for_4.data, aligned_for_4.size, aligned_for_4.block);
    CHECK(is_borrowed_vector(VECTOR_ELT(borrowed, 0)));
    CHECK(r_identical(object, borrowed));

    payload_memory aligned_for_0 = serialize_at(object, 4, 0);
    Rcpp::RObject copied = unserialize(
        aligned_for_0.data, aligned_for_0.size, aligned_for_0.block);
    CHECK_FALSE(is_borrowed_vector(VECTOR_ELT(copied, 0)));
    CHECK(r_identical(object, copied));
}

TEST_CASE("a payload mostly in its stream is copied", "[sync][r]")
{
    // 1.6 MB beside the stream and about 3.5 MB of strings in it.
    Rcpp::RObject object =
        r("list(x = seq_len(200000) / 3, s = paste0('s', 1:300000))");
    payload_memory memory = serialize_at(object, 0, 0);
    Rcpp::RObject copy = unserialize(memory.data, memory.size, memory.block);
    CHECK_FALSE(is_borrowed_vector(VECTOR_ELT(copy, 0)));
    CHECK(r_identical(object, copy));
}

TEST_CASE("a borrowed vector keeps its payload alive", "[sync][r]")
{
    Rcpp::RObject object = r("list(x = seq_len(200000) / 3)");
    std::size_t size = serialized_size(object);
    auto released = std::make_shared<std::atomic<bool>>(false);
    void* block = std::malloc(size);
    REQUIRE(block != nullptr);
    serialize_to(object, block, size);
    std::shared_ptr<void> owner(block, [released](void* p) {
        std::free(p);
        released->store(true);
    });
    std::size_t live_before = mirai::sync::detail::borrowed_payload_bytes();
    {
        Rcpp::RObject borrowed = unserialize(block, size, owner);
        owner.reset();
        CHECK(mirai::sync::detail::borrowed_payload_bytes() ==
              live_before + size);
        R_gc();
        CHECK_FALSE(released->load());
        Rcpp::NumericVector x(VECTOR_ELT(borrowed, 0));
        CHECK(x[199999] == 200000.0 / 3);
    }
    R_gc();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!released->load() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(released->load());
    CHECK(mirai::sync::detail::borrowed_payload_bytes() == live_before);
}

TEST_CASE("borrowed vectors read by element", "[sync][r]")
{
    Rcpp::RObject object = r(
        "n <- 300000; list(d = seq_len(n) / 7, i = rev(seq_len(n)),"
        " r = as.raw(seq_len(4 * n) %% 251),"
        " z = complex(real = seq_len(n), imaginary = -seq_len(n)),"
        " l = rep(c(TRUE, NA, FALSE), n / 3))");
    payload_memory memory = serialize_at(object, 0, 0);
    Rcpp::RObject borrowed =
        unserialize(memory.data, memory.size, memory.block);
    // rev() and c() read through Get_region or Elt, [ through Elt.
    Rcpp::Function reads(r("function(l) lapply(l, function(x) "
                           "list(rev(x), c(x, x[1]), x[seq(1, length(x), "
                           "by = 7)], x[length(x)]))"));
    for (int i = 0; i < 5; i++) {
        CAPTURE(i);
        CHECK(is_borrowed_vector(VECTOR_ELT(borrowed, i)));
    }
    CHECK(r_identical(reads(object), reads(borrowed)));
}

TEST_CASE("borrowed vectors copy on modify", "[sync][r]")
{
    Rcpp::RObject object = r("list(x = seq_len(200000) / 3)");
    payload_memory memory = serialize_at(object, 0, 0);
    Rcpp::RObject borrowed =
        unserialize(memory.data, memory.size, memory.block);
    Rcpp::Function change_copy(r("function(l) { y <- l$x; y[1] <- -1;"
                                 " c(l$x[1], y[1], sum(l$x) == sum(y) + 1 +"
                                 " 1/3) }"));
    Rcpp::NumericVector out = change_copy(borrowed);
    CHECK(out[0] == 1.0 / 3);
    CHECK(out[1] == -1);
    CHECK(out[2] == 1);
    CHECK(r_identical(object, borrowed));
}

TEST_CASE("borrowed vectors serialize again", "[sync][r]")
{
    Rcpp::RObject object = r("list(x = seq_len(200000) / 3)");
    payload_memory memory = serialize_at(object, 0, 0);
    Rcpp::RObject borrowed =
        unserialize(memory.data, memory.size, memory.block);

    auto again = to_bytes(borrowed);
    REQUIRE(std::memcmp(again.data(), "MIRAIOB1", 8) == 0);
    CHECK(r_identical(object, unserialize(again.data(), again.size())));

    // R's own serialize() writes a borrowed vector as a plain one.
    Rcpp::Function r_serialize(r("function(x) serialize(x, NULL)"));
    Rcpp::RawVector from_borrowed = r_serialize(borrowed);
    Rcpp::RawVector from_original = r_serialize(object);
    CHECK(std::vector<unsigned char>(from_borrowed.begin(),
                                     from_borrowed.end()) ==
          std::vector<unsigned char>(from_original.begin(),
                                     from_original.end()));
}

TEST_CASE("out-of-band references are checked", "[sync][r]")
{
    auto bytes = to_bytes(r("list(x = seq_len(200000) / 3)"));
    payload_parts parts = parts_of(bytes);
    std::size_t length = parts.buffers[0].length;

    SECTION("a reference outside a payload")
    {
        std::vector<unsigned char> stream(
            bytes.begin() + parts.stream_offset,
            bytes.begin() + parts.stream_offset + parts.stream_length);
        CHECK_THAT(unserialize_error(stream),
                   Catch::Contains("out-of-band vector outside a mirai-cpp "
                                   "payload"));
    }
    SECTION("a missing buffer")
    {
        CHECK_THAT(unserialize_error(rebuild(bytes, {})),
                   Catch::Contains("out-of-band buffer 0 does not exist: "
                                   "the payload has 0"));
    }
    SECTION("a buffer never referenced")
    {
        CHECK(unserialize_error(rebuild(bytes, {length, 64})) ==
              "unserialize payload: 1 out-of-band buffers are never "
              "referenced");
    }
    SECTION("a buffer of part of an element")
    {
        CHECK_THAT(unserialize_error(rebuild(bytes, {12})),
                   Catch::Contains("out-of-band buffer 0 has 12 bytes, "
                                   "expected 200000 elements of 8 bytes"));
    }
    SECTION("a bad layout")
    {
        std::uint64_t bias = 64;
        std::memcpy(bytes.data() + parts.stream_offset + parts.stream_length +
                        8,
                    &bias, sizeof bias);
        CHECK(unserialize_error(bytes) ==
              "unserialize payload: buffer bias 64 is not below 64");
    }
}

// The offset in payload's stream of the reference to buffer index: a
// double vector (type 14) of length 3 holding the index, the type 14 and
// the length, in native byte order.
std::size_t find_reference(const std::vector<unsigned char>& payload,
                           double index, double length)
{
    payload_parts parts = parts_of(payload);
    unsigned char pattern[32];
    const std::int32_t head[] = {14, 3};
    const double values[] = {index, 14, length};
    std::memcpy(pattern, head, sizeof head);
    std::memcpy(pattern + 8, values, sizeof values);
    for (std::size_t i = 0; i + sizeof pattern <= parts.stream_length; i++) {
        if (std::memcmp(payload.data() + parts.stream_offset + i, pattern,
                        sizeof pattern) == 0)
            return parts.stream_offset + i;
    }
    FAIL("no reference to buffer " << index << " in the stream");
    return 0;
}

void put_double(std::vector<unsigned char>& payload, std::size_t offset,
                double value)
{
    std::memcpy(payload.data() + offset, &value, sizeof value);
}

TEST_CASE("an out-of-band buffer referenced twice is rejected", "[sync][r]")
{
    auto bytes =
        to_bytes(r("list(a = seq_len(200000) / 3, b = seq_len(200000) / 7)"));
    REQUIRE(parts_of(bytes).buffers.size() == 2);
    put_double(bytes, find_reference(bytes, 1, 200000) + 8, 0);
    CHECK_THAT(unserialize_error(bytes),
               Catch::Contains("out-of-band buffer 0 is referenced twice"));
}

TEST_CASE("out-of-band reference fields are checked", "[sync][r]")
{
    auto original = to_bytes(r("list(x = seq_len(200000) / 3)"));
    std::size_t at = find_reference(original, 0, 200000);

    auto bytes = original;
    put_double(bytes, at + 8, -1);
    CHECK_THAT(unserialize_error(bytes),
               Catch::Contains("index -1 and length 200000 must be whole "
                               "numbers from 0"));

    bytes = original;
    put_double(bytes, at + 24, 199999.5);
    CHECK_THAT(unserialize_error(bytes),
               Catch::Contains("index 0 and length 199999.5 must be whole "
                               "numbers from 0"));

    // One element fewer than the buffer holds.
    bytes = original;
    put_double(bytes, at + 24, 199999);
    CHECK_THAT(unserialize_error(bytes),
               Catch::Contains("out-of-band buffer 0 has 1600000 bytes, "
                               "expected 199999 elements of 8 bytes"));
}

TEST_CASE("out-of-band buffer cut by whole elements is rejected",
          "[sync][r]")
{
    auto bytes = to_bytes(r("list(x = seq_len(200000) / 3)"));
    payload_parts parts = parts_of(bytes);
    std::size_t length_field =
        parts.stream_offset + parts.stream_length + 16 + 8;
    std::uint64_t shorter = parts.buffers[0].length - 8;
    std::memcpy(bytes.data() + length_field, &shorter, sizeof shorter);
    bytes.resize(bytes.size() - 8);
    CHECK_THAT(unserialize_error(bytes),
               Catch::Contains("out-of-band buffer 0 has 1599992 bytes, "
                               "expected 200000 elements of 8 bytes"));
}

TEST_CASE("out-of-band class of another type is rejected", "[sync][r]")
{
    auto bytes = to_bytes(r("list(b = seq_len(3e5) + 1L)"));
    std::string from = "mirai_cpp_borrowed_integer";
    std::string to = "mirai_cpp_borrowed_logical";
    auto found = std::search(bytes.begin(), bytes.end(), from.begin(),
                             from.end());
    REQUIRE(found != bytes.end());
    std::copy(to.begin(), to.end(), found);
    CHECK_THAT(unserialize_error(bytes),
               Catch::Contains("a vector of type 13 read as type 'logical'"));
}

TEST_CASE("release_borrowed_payloads collects once per borrow", "[sync][r]")
{
    mirai::sync::release_borrowed_payloads();
    CHECK_FALSE(mirai::sync::has_unreleased_payloads());
    CHECK_FALSE(mirai::sync::release_borrowed_payloads());

    Rcpp::RObject object = r("list(x = seq_len(200000) / 3)");
    payload_memory memory = serialize_at(object, 0, 0);
    unserialize(memory.data, memory.size, memory.block);
    CHECK(mirai::sync::has_unreleased_payloads());
    CHECK(mirai::sync::release_borrowed_payloads());
    CHECK_FALSE(mirai::sync::has_unreleased_payloads());
}
