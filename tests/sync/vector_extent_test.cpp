#include "sync/detail/vector_extent.hpp"

#include "sync/serialize.hpp"
#include "tests/support/r_session.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using mirai::sync::detail::r_chunk_elements;
using mirai::sync::detail::vector_extent;
using mirai::test::r_session;

namespace {

void read_int(vector_extent& extent, std::int32_t value)
{
    extent.note_read(&value, sizeof value);
}

// One read that R_Unserialize made: where to and how many bytes.
struct recorded_read {
    const void* to;
    std::size_t bytes;
    std::size_t found; // what vector_extent reported before the read
};

struct recording_source {
    const unsigned char* data;
    std::size_t pos;
    vector_extent extent;
    std::vector<recorded_read> reads;
};

void record_bytes(R_inpstream_t stream, void* to, int n)
{
    auto* source = static_cast<recording_source*>(stream->data);
    auto count = static_cast<std::size_t>(n);
    std::size_t found = source->extent.bytes_of_vector_at(count);
    std::memcpy(to, source->data + source->pos, count);
    source->pos += count;
    source->extent.note_read(to, count);
    source->reads.push_back({to, count, found});
}

int record_char(R_inpstream_t stream)
{
    unsigned char byte;
    record_bytes(stream, &byte, 1);
    return byte;
}

} // namespace

TEST_CASE("vector_extent finds a vector from its length and first chunk",
          "[sync]")
{
    vector_extent extent;
    read_int(extent, 14);     // flags of a double vector
    read_int(extent, 100000); // its length
    REQUIRE(extent.bytes_of_vector_at(r_chunk_elements * 8) == 800000u);

    SECTION("each element size R reads in chunks") {
        REQUIRE(extent.bytes_of_vector_at(r_chunk_elements * 1) == 100000u);
        REQUIRE(extent.bytes_of_vector_at(r_chunk_elements * 4) == 400000u);
        REQUIRE(extent.bytes_of_vector_at(r_chunk_elements * 16) ==
                1600000u);
    }
    SECTION("no other chunk size") {
        REQUIRE(extent.bytes_of_vector_at(r_chunk_elements * 3) == 0u);
        REQUIRE(extent.bytes_of_vector_at(r_chunk_elements * 8 + 8) == 0u);
        REQUIRE(extent.bytes_of_vector_at(0) == 0u);
    }
}

TEST_CASE("vector_extent reads a long length as -1 and two halves",
          "[sync]")
{
    vector_extent extent;
    read_int(extent, 14);
    read_int(extent, -1);
    read_int(extent, 1);
    read_int(extent, 5);
    REQUIRE(extent.bytes_of_vector_at(r_chunk_elements * 8) ==
            ((std::size_t(1) << 32) + 5) * 8);
}

TEST_CASE("vector_extent finds nothing where no vector starts", "[sync]")
{
    vector_extent extent;
    SECTION("before any read") {
        REQUIRE(extent.bytes_of_vector_at(r_chunk_elements * 8) == 0u);
    }
    SECTION("after a chunk, for the next chunk of the same vector") {
        read_int(extent, 14);
        read_int(extent, 100000);
        std::vector<double> chunk(r_chunk_elements);
        extent.note_read(chunk.data(), chunk.size() * sizeof(double));
        REQUIRE(extent.bytes_of_vector_at(r_chunk_elements * 8) == 0u);
    }
    SECTION("for a vector shorter than one chunk") {
        read_int(extent, 14);
        read_int(extent, 8095);
        REQUIRE(extent.bytes_of_vector_at(r_chunk_elements * 8) == 0u);
    }
    SECTION("for a negative length other than -1") {
        read_int(extent, 14);
        read_int(extent, -5);
        REQUIRE(extent.bytes_of_vector_at(r_chunk_elements * 8) == 0u);
    }
}

// Checks the assumption vector_extent makes about R's reads against the
// R that runs here: every large vector is found at the first chunk of its
// data, with its exact size, and nothing else is found.
TEST_CASE("vector_extent finds every large vector R unserializes",
          "[sync][r]")
{
    r_session();
    Rcpp::List original(r_session().parseEval(
        "list(a = seq_len(100000) + 0.5, b = 'small', c = rev(seq_len(20000L)),"
        " d = as.raw(seq_len(50000) %% 256), e = complex(real = 1:9000),"
        " f = rep(TRUE, 8096), g = 1:10)"));
    std::vector<unsigned char> bytes(
        mirai::sync::serialized_size(original));
    mirai::sync::serialize_to(original, bytes.data(), bytes.size());

    recording_source source{bytes.data(), 0, {}, {}};
    R_inpstream_st stream;
    R_InitInPStream(&stream, &source, R_pstream_any_format, record_char,
                    record_bytes, nullptr, R_NilValue);
    Rcpp::List copy(R_Unserialize(&stream));
    REQUIRE(source.pos == bytes.size());

    std::vector<std::pair<const void*, std::size_t>> found;
    for (const recorded_read& read : source.reads) {
        if (read.found != 0) {
            found.emplace_back(read.to, read.found);
        }
    }
    std::vector<std::pair<const void*, std::size_t>> expected = {
        {REAL(copy["a"]), 100000 * sizeof(double)},
        {INTEGER(copy["c"]), 20000 * sizeof(int)},
        {RAW(copy["d"]), 50000},
        {COMPLEX(copy["e"]), 9000 * sizeof(Rcomplex)},
        {LOGICAL(copy["f"]), 8096 * sizeof(int)},
    };
    REQUIRE(found == expected);
}
