#include "sync/serialize.hpp"

#include "tests/support/r_session.hpp"
#include "tests/sync/serialize_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

using mirai::sync::serialize_to;
using mirai::sync::serialize_up_to;
using mirai::sync::serialized_size;
using mirai::sync::unserialize;
using mirai::test::r;
using mirai::test::r_identical;
using mirai::test::r_session;
using mirai::test::to_bytes;
using mirai::test::unserialize_error;

TEST_CASE("serialize roundtrips common objects", "[sync][r]")
{
    r_session();
    const char* codes[] = {
        "1:10",
        "c(a = 1.5, b = NA, c = Inf)",
        "c('x', NA, 'caf\\u00e9')",
        "list(1L, list(TRUE, NULL), letters)",
        "data.frame(x = 1:3, y = c('a', 'b', 'c'))",
        "function(x, y = 2) x + y",
        "quote(f(x, y = 1))",
        "as.raw(0:255)",
        "NULL",
    };
    for (const char* code : codes) {
        CAPTURE(code);
        Rcpp::RObject original = r(code);
        auto bytes = to_bytes(original);
        Rcpp::RObject copy = unserialize(bytes.data(), bytes.size());
        REQUIRE(r_identical(original, copy));
    }
}

TEST_CASE("serialize keeps a function callable", "[sync][r]")
{
    r_session();
    Rcpp::RObject fn = r("function(x, y = 2) x * y");
    auto bytes = to_bytes(fn);
    Rcpp::Function copy(unserialize(bytes.data(), bytes.size()));
    REQUIRE(Rcpp::as<double>(copy(21)) == 42);
}

TEST_CASE("serialize roundtrips 10 MB of doubles", "[sync][r]")
{
    r_session();
    Rcpp::RObject original = r("as.numeric(seq_len(1310720)) / 3");
    auto bytes = to_bytes(original);
    REQUIRE(bytes.size() > 10u * 1024 * 1024);
    Rcpp::RObject copy = unserialize(bytes.data(), bytes.size());
    REQUIRE(r_identical(original, copy));
}

TEST_CASE("serialize roundtrips large vectors of every atomic type",
          "[sync][r]")
{
    r_session();
    Rcpp::RObject original = r(
        "list(d = seq_len(700000) / 7, i = rev(seq_len(1300000L)),"
        " r = as.raw(seq_len(5000000) %% 251),"
        " z = complex(real = 1:400000, imaginary = -(1:400000)),"
        " l = rep(c(TRUE, NA, FALSE), 450000))");
    auto bytes = to_bytes(original);
    Rcpp::RObject copy = unserialize(bytes.data(), bytes.size());
    REQUIRE(r_identical(original, copy));
}

TEST_CASE("serialize_to writes the same bytes at any alignment",
          "[sync][r]")
{
    r_session();
    // 800 KB of doubles: under the size that goes out of band.
    Rcpp::RObject original = r("list(seq_len(100000) / 7, 'end')");
    Rcpp::Function r_serialize(
        r_session().parseEval("function(x) serialize(x, NULL, xdr = FALSE)"));
    Rcpp::RawVector reference = r_serialize(original);
    std::size_t size = serialized_size(original);
    REQUIRE(size == static_cast<std::size_t>(reference.size()));

    std::vector<unsigned char> buffer(size + 16);
    for (std::size_t offset : {0, 1, 3, 8, 13}) {
        CAPTURE(offset);
        std::fill(buffer.begin(), buffer.end(), 0xee);
        serialize_to(original, buffer.data() + offset, size);
        REQUIRE(std::memcmp(buffer.data() + offset, reference.begin(),
                            size) == 0);
        REQUIRE(buffer[offset + size] == 0xee);
        Rcpp::RObject copy = unserialize(buffer.data() + offset, size);
        REQUIRE(r_identical(original, copy));
    }
}

TEST_CASE("unserialize rejects a large vector cut short", "[sync][r]")
{
    r_session();
    R_xlen_t n = 1310720;
    // A plain R stream, as R's own serialize() writes it, because
    // serialize_to would put a vector this large out of band.
    Rcpp::RawVector stream(r("serialize(seq_len(1310720) + 0.5, NULL, "
                             "xdr = FALSE)"));
    std::vector<unsigned char> bytes(stream.begin(), stream.end());
    // R reads the data in chunks of 8096 doubles after the header.
    std::size_t data_start = bytes.size() - n * sizeof(double);
    std::size_t chunk = 8096 * sizeof(double);
    std::size_t cut = bytes.size() / 2;
    std::size_t offset =
        data_start + (cut - data_start) / chunk * chunk;
    REQUIRE(unserialize_error(bytes.data(), cut) ==
            "unserialize payload: truncated payload: " +
                std::to_string(chunk) + " bytes needed at offset " +
                std::to_string(offset) + ", only " +
                std::to_string(cut - offset) + " left");
}

TEST_CASE("serialize writes native binary version 3", "[sync][r]")
{
    r_session();
    auto bytes = to_bytes(r("1L"));
    REQUIRE(bytes.size() >= 6);
    REQUIRE(bytes[0] == 'B');
    REQUIRE(bytes[1] == '\n');
    std::int32_t version = 0;
    std::memcpy(&version, bytes.data() + 2, sizeof version);
    REQUIRE(version == 3);

    // R's own serialize(xdr = FALSE) produces the same bytes.
    Rcpp::RawVector expected(r("serialize(1L, NULL, xdr = FALSE)"));
    REQUIRE(std::vector<unsigned char>(expected.begin(), expected.end()) ==
            bytes);
}

TEST_CASE("serialize_to rejects a buffer of the wrong size", "[sync][r]")
{
    r_session();
    Rcpp::RObject object = r("1:100");
    std::size_t size = serialized_size(object);
    std::vector<unsigned char> small(size - 1);
    std::vector<unsigned char> large(size + 1);
    try {
        serialize_to(object, small.data(), small.size());
        FAIL("no error for a small buffer");
    } catch (const std::runtime_error& e) {
        REQUIRE(std::string(e.what()) ==
                "serialize object: size changed: expected " +
                    std::to_string(size - 1) + " bytes, got " +
                    std::to_string(size));
    }
    REQUIRE_THROWS_WITH(serialize_to(object, large.data(), large.size()),
                        Catch::Contains("size changed"));
}

TEST_CASE("unserialize rejects truncated payloads", "[sync][r]")
{
    r_session();
    auto bytes = to_bytes(r("list(a = 1:1000, b = 'text')"));
    for (std::size_t len : {std::size_t(0), std::size_t(1), std::size_t(2),
                            std::size_t(10), bytes.size() / 2,
                            bytes.size() - 1}) {
        CAPTURE(len);
        std::string message = unserialize_error(bytes.data(), len);
        REQUIRE(message.rfind("unserialize payload: ", 0) == 0);
    }
    REQUIRE(unserialize_error(bytes.data(), bytes.size() - 1) ==
            "unserialize payload: truncated payload: 4 bytes needed at "
            "offset " + std::to_string(bytes.size() - 4) + ", only 3 left");
}

TEST_CASE("unserialize rejects garbage", "[sync][r]")
{
    r_session();
    std::string text = "this is not an R serialization stream";
    REQUIRE(unserialize_error(text.data(), text.size()).rfind(
                "unserialize payload: ", 0) == 0);

    // A valid header followed by noise.
    auto bytes = to_bytes(r("1L"));
    std::vector<unsigned char> noisy(bytes.begin(), bytes.begin() + 14);
    for (int i = 0; i < 64; i++)
        noisy.push_back(static_cast<unsigned char>(i * 37 + 11));
    REQUIRE(unserialize_error(noisy.data(), noisy.size()).rfind(
                "unserialize payload: ", 0) == 0);
}

TEST_CASE("unserialize rejects bytes after the object", "[sync][r]")
{
    r_session();
    auto bytes = to_bytes(r("1L"));
    std::size_t size = bytes.size();
    bytes.push_back(0);
    REQUIRE(unserialize_error(bytes.data(), bytes.size()) ==
            "unserialize payload: 1 bytes left after the object of " +
                std::to_string(size) + " bytes");
}

TEST_CASE("serialize_up_to writes an object that fits", "[sync][r]")
{
    Rcpp::RObject object = r("list(a = 1:3, b = 'text')");
    std::vector<unsigned char> expected = to_bytes(object);
    std::vector<unsigned char> buffer(expected.size() + 100, 0xee);

    std::size_t size = serialize_up_to(object, buffer.data(), buffer.size());
    REQUIRE(size == expected.size());
    REQUIRE(std::memcmp(buffer.data(), expected.data(), size) == 0);
    REQUIRE(buffer[size] == 0xee);
}

TEST_CASE("serialize_up_to sizes an object that does not fit", "[sync][r]")
{
    Rcpp::RObject object = r("as.numeric(1:1000)");
    std::vector<unsigned char> expected = to_bytes(object);
    std::vector<unsigned char> buffer(64 + 1, 0xee);

    std::size_t size = serialize_up_to(object, buffer.data(), 64);
    REQUIRE(size == expected.size());
    REQUIRE(size > 64);
    REQUIRE(buffer[64] == 0xee);
}
