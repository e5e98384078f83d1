#include "sync/detail/payload_layout.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using mirai::sync::detail::has_payload_layout;
using mirai::sync::detail::payload_parts;
using mirai::sync::detail::payload_size;
using mirai::sync::detail::plan_payload;
using mirai::sync::detail::read_payload_layout;
using mirai::sync::detail::write_payload_layout;

namespace {

// A payload with a stream of stream_length bytes and buffers of the given
// lengths, its layout written and its contents zero.
std::vector<unsigned char> make_payload(std::size_t stream_length,
                                        std::vector<std::size_t> lengths,
                                        std::size_t bias)
{
    payload_parts parts = plan_payload(stream_length, lengths, bias);
    std::vector<unsigned char> payload(payload_size(parts));
    write_payload_layout(payload.data(), parts);
    return payload;
}

// The uint64 field at offset of payload, overwritten with value.
void put_u64(std::vector<unsigned char>& payload, std::size_t offset,
             std::uint64_t value)
{
    std::memcpy(payload.data() + offset, &value, sizeof value);
}

std::string read_error(const std::vector<unsigned char>& payload)
{
    payload_parts parts;
    return read_payload_layout(payload.data(), payload.size(), parts);
}

} // namespace

TEST_CASE("payload layout places buffers after the table", "[sync]")
{
    payload_parts parts = plan_payload(100, {8000, 3}, 0);
    REQUIRE(parts.stream_offset == 16);
    REQUIRE(parts.stream_length == 100);
    REQUIRE(parts.bias == 0);
    REQUIRE(parts.buffers.size() == 2);
    // The table ends at 16 + 100 + 16 + 2 * 16 = 164.
    CHECK(parts.buffers[0].offset == 192);
    CHECK(parts.buffers[0].length == 8000);
    CHECK(parts.buffers[1].offset == 8192);
    CHECK(parts.buffers[1].length == 3);
    CHECK(payload_size(parts) == 8195);
}

TEST_CASE("payload layout applies the bias", "[sync]")
{
    payload_parts parts = plan_payload(100, {8000, 3}, 12 + 64);
    REQUIRE(parts.bias == 12);
    CHECK(parts.buffers[0].offset == 204);
    CHECK(parts.buffers[1].offset == 8204);
    CHECK(payload_size(parts) == 8207);
}

TEST_CASE("payload layout reads back what it wrote", "[sync]")
{
    for (std::size_t bias : {0, 4, 12, 63}) {
        CAPTURE(bias);
        auto payload = make_payload(37, {1, 640, 0, 9}, bias);
        REQUIRE(has_payload_layout(payload.data(), payload.size()));
        payload_parts parts;
        REQUIRE(read_payload_layout(payload.data(), payload.size(), parts) ==
                "");
        payload_parts planned = plan_payload(37, {1, 640, 0, 9}, bias);
        CHECK(parts.stream_offset == planned.stream_offset);
        CHECK(parts.stream_length == 37);
        CHECK(parts.bias == bias);
        REQUIRE(parts.buffers.size() == 4);
        for (std::size_t i = 0; i < 4; i++) {
            CHECK(parts.buffers[i].offset == planned.buffers[i].offset);
            CHECK(parts.buffers[i].length == planned.buffers[i].length);
        }
    }
}

TEST_CASE("payload layout is told apart from R streams", "[sync]")
{
    const unsigned char r_stream[] = {'B', '\n', 3, 0, 0, 0, 2, 4,
                                      2,   0,    0, 5, 0, 0, 0, 0};
    CHECK_FALSE(has_payload_layout(r_stream, sizeof r_stream));
    auto payload = make_payload(10, {5}, 0);
    CHECK_FALSE(has_payload_layout(payload.data(), 15));
    CHECK(has_payload_layout(payload.data(), 16));
}

TEST_CASE("payload layout rejects a stream past the end", "[sync]")
{
    auto payload = make_payload(10, {5}, 0);
    put_u64(payload, 8, payload.size());
    CHECK(read_error(payload) ==
          "stream length " + std::to_string(payload.size()) +
              " leaves no room for the buffer table in " +
              std::to_string(payload.size()) + " bytes");
}

TEST_CASE("payload layout rejects a buffer count too large", "[sync]")
{
    auto payload = make_payload(10, {5}, 0);
    std::size_t table = 16 + 10;
    put_u64(payload, table, 1000);
    // 64 + 5 bytes in all: after 26 bytes and the 16-byte table header,
    // 27 bytes are left.
    CHECK(read_error(payload) ==
          "buffer count 1000 does not fit 27 bytes after the stream");
}

TEST_CASE("payload layout rejects a bias of 64 or more", "[sync]")
{
    auto payload = make_payload(10, {5}, 0);
    put_u64(payload, 16 + 10 + 8, 64);
    CHECK(read_error(payload) == "buffer bias 64 is not below 64");
}

TEST_CASE("payload layout rejects a buffer out of place", "[sync]")
{
    auto payload = make_payload(10, {5, 7}, 0);
    std::size_t entry = 16 + 10 + 16;
    put_u64(payload, entry, 65);
    // The table ends at 74, so buffer 0 starts at 128 and ends at 133,
    // and buffer 1 starts at 192 and ends the payload at 199.
    REQUIRE(payload.size() == 199);
    CHECK(read_error(payload) ==
          "buffer 0 at offset 65 with 5 bytes is out of place: expected "
          "offset 128 and an end within 199 bytes");

    payload = make_payload(10, {5, 7}, 0);
    put_u64(payload, entry + 16 + 8, 1 << 20); // the length of buffer 1
    CHECK(read_error(payload) ==
          "buffer 1 at offset 192 with 1048576 bytes is out of place: "
          "expected offset 192 and an end within 199 bytes");
}

TEST_CASE("payload layout rejects bytes after the last buffer", "[sync]")
{
    auto payload = make_payload(10, {5}, 0);
    payload.push_back(0);
    payload.push_back(0);
    CHECK(read_error(payload) ==
          "2 bytes follow the end of the out-of-band layout");
}

TEST_CASE("payload layout rejects every truncation", "[sync]")
{
    auto payload = make_payload(20, {100, 50}, 4);
    for (std::size_t len = 0; len < payload.size(); len++) {
        CAPTURE(len);
        payload_parts parts;
        CHECK(read_payload_layout(payload.data(), len, parts) != "");
    }
}

TEST_CASE("payload layout refuses sizes that overflow", "[sync]")
{
    std::size_t huge = SIZE_MAX - 10;
    REQUIRE_THROWS_AS(plan_payload(10, {huge}, 0), std::length_error);
    REQUIRE_THROWS_AS(plan_payload(huge, {1}, 0), std::length_error);
}
