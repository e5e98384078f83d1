// The wire header: encode and decode agree, and every malformed header
// is rejected with its own status.
#include "dispatcher/wire.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

std::vector<unsigned char> encoded(uint16_t type, uint64_t id, uint32_t flags,
    size_t payload_len)
{
    std::vector<unsigned char> frame(DSP_HEADER_SIZE + payload_len, 0xAB);
    dsp_wire_encode(frame.data(), static_cast<dsp_frame_type>(type), id,
        flags, payload_len);
    return frame;
}

enum dsp_wire_status decode(const std::vector<unsigned char>& frame)
{
    dsp_frame_header hdr;
    return dsp_wire_decode(frame.data(), frame.size(), &hdr);
}

} // namespace

TEST_CASE("wire header round-trips every field", "[dispatcher]")
{
    auto frame =
        encoded(DSP_FRAME_RESULT, UINT64_C(0x0102030405060708), 2, 5);
    dsp_frame_header hdr;

    REQUIRE(dsp_wire_decode(frame.data(), frame.size(), &hdr) ==
        DSP_WIRE_OK);
    CHECK(hdr.version == DSP_WIRE_VERSION);
    CHECK(hdr.type == DSP_FRAME_RESULT);
    CHECK(hdr.task_id == UINT64_C(0x0102030405060708));
    CHECK(hdr.flags == 2);
    CHECK(hdr.payload_len == 5);
}

TEST_CASE("wire header is little-endian with the magic first",
    "[dispatcher]")
{
    auto frame = encoded(DSP_FRAME_TASK, 0x11, 0x22, 0);

    CHECK(std::string(frame.begin(), frame.begin() + 4) == "MIRA");
    CHECK(frame[4] == DSP_WIRE_VERSION);
    CHECK(frame[5] == 0);
    CHECK(frame[6] == DSP_FRAME_TASK);
    CHECK(frame[8] == 0x11);
    CHECK(frame[16] == 0x22);
    for (int i = 20; i < 32; i++) {
        CHECK(frame[i] == 0);
    }
}

TEST_CASE("wire decode accepts every frame type", "[dispatcher]")
{
    for (uint16_t type = DSP_FRAME_TASK; type <= DSP_FRAME_RECALL; type++) {
        CHECK(decode(encoded(type, 1, 0, 0)) == DSP_WIRE_OK);
    }
}

TEST_CASE("wire decode rejects malformed headers", "[dispatcher]")
{
    SECTION("a frame shorter than a header")
    {
        auto frame = encoded(DSP_FRAME_TASK, 1, 0, 0);
        frame.pop_back();
        CHECK(decode(frame) == DSP_WIRE_SHORT);
        CHECK(decode({}) == DSP_WIRE_SHORT);
    }
    SECTION("a bad magic number")
    {
        auto frame = encoded(DSP_FRAME_TASK, 1, 0, 0);
        frame[0] ^= 0xFF;
        CHECK(decode(frame) == DSP_WIRE_BAD_MAGIC);
    }
    SECTION("another protocol version")
    {
        auto frame = encoded(DSP_FRAME_TASK, 1, 0, 0);
        frame[4] = DSP_WIRE_VERSION + 1;
        CHECK(decode(frame) == DSP_WIRE_BAD_VERSION);
    }
    SECTION("an unknown frame type")
    {
        CHECK(decode(encoded(0, 1, 0, 0)) == DSP_WIRE_BAD_TYPE);
        CHECK(decode(encoded(DSP_FRAME_RECALL + 1, 1, 0, 0)) ==
            DSP_WIRE_BAD_TYPE);
        CHECK(decode(encoded(0xFFFF, 1, 0, 0)) == DSP_WIRE_BAD_TYPE);
    }
    SECTION("a nonzero reserved field")
    {
        auto frame = encoded(DSP_FRAME_TASK, 1, 0, 0);
        frame[23] = 1;
        CHECK(decode(frame) == DSP_WIRE_BAD_RESERVED);
    }
    SECTION("a payload length that disagrees with the message")
    {
        auto longer = encoded(DSP_FRAME_TASK, 1, 0, 4);
        longer.push_back(0);
        CHECK(decode(longer) == DSP_WIRE_BAD_LENGTH);

        auto shorter = encoded(DSP_FRAME_TASK, 1, 0, 4);
        shorter.pop_back();
        CHECK(decode(shorter) == DSP_WIRE_BAD_LENGTH);

        auto huge = encoded(DSP_FRAME_TASK, 1, 0, 0);
        dsp__put_u64(huge.data() + 24, UINT64_MAX);
        CHECK(decode(huge) == DSP_WIRE_BAD_LENGTH);
    }
}

TEST_CASE("wire status has a description for each value", "[dispatcher]")
{
    CHECK(std::string(dsp_wire_strerror(DSP_WIRE_OK)) == "ok");
    CHECK(std::string(dsp_wire_strerror(DSP_WIRE_SHORT)) ==
        "frame shorter than its header");
    CHECK(std::string(dsp_wire_strerror(DSP_WIRE_BAD_MAGIC)) ==
        "bad magic number");
    CHECK(std::string(dsp_wire_strerror(DSP_WIRE_BAD_VERSION)) ==
        "unsupported protocol version");
    CHECK(std::string(dsp_wire_strerror(DSP_WIRE_BAD_TYPE)) ==
        "unknown frame type");
    CHECK(std::string(dsp_wire_strerror(DSP_WIRE_BAD_RESERVED)) ==
        "reserved field not zero");
    CHECK(std::string(dsp_wire_strerror(DSP_WIRE_BAD_LENGTH)) ==
        "payload length does not match the frame");
    CHECK(std::string(dsp_wire_strerror(static_cast<dsp_wire_status>(99))) ==
        "unknown wire status");
}
