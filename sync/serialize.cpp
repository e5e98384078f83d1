// R serialization straight into caller-owned memory and back. R 4.2 calls
// the stream callbacks below with whole vector chunks of up to 64 KB, so
// each call is one memcpy and large payloads move at memory speed.
#include "sync/serialize.hpp"

#include "sync/detail/guard.hpp"
#include "sync/detail/vector_extent.hpp"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mirai {
namespace sync {
namespace {

// Serialization version 3, as mirai and R >= 3.5 use.
constexpr int serialization_version = 3;

#if defined(MADV_POPULATE_WRITE)
constexpr int madvise_populate_write = MADV_POPULATE_WRITE;
#else
constexpr int madvise_populate_write = 23; // Linux's value, for older headers
#endif

// Buffers at least this large are populated before they are written.
constexpr std::size_t prefault_min_bytes = 4 << 20;

// Chunks of at least this many bytes, in a payload of at least
// prefault_min_bytes, are copied past the cache.
constexpr std::size_t streaming_min_bytes = 32 << 10;

// Copy n bytes with non-temporal stores, which write whole cache lines
// to memory without first reading them in. A payload far larger than the
// cache is not read again soon. On a 2-core Debian 12 VM, serialize_bench
// serialized and unserialized 100 MB in about 34 ms each this way, and in
// about 37.5 ms with memcpy (medians of 12 rounds, 3 runs each).
void copy_streaming(void* to, const void* from, std::size_t n)
{
#if defined(__SSE2__)
    auto* out = static_cast<unsigned char*>(to);
    auto* in = static_cast<const unsigned char*>(from);
    std::size_t head = (16 - reinterpret_cast<std::uintptr_t>(out) % 16) % 16;
    head = head < n ? head : n;
    std::memcpy(out, in, head);
    std::size_t i = head;
    for (; i + 64 <= n; i += 64) {
        __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
        __m128i b =
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i + 16));
        __m128i c =
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i + 32));
        __m128i d =
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i + 48));
        _mm_stream_si128(reinterpret_cast<__m128i*>(out + i), a);
        _mm_stream_si128(reinterpret_cast<__m128i*>(out + i + 16), b);
        _mm_stream_si128(reinterpret_cast<__m128i*>(out + i + 32), c);
        _mm_stream_si128(reinterpret_cast<__m128i*>(out + i + 48), d);
    }
    std::memcpy(out + i, in + i, n - i);
    // Non-temporal stores are weakly ordered, so fence them before another
    // thread, such as the one that sends the message, reads the buffer.
    _mm_sfence();
#else
    std::memcpy(to, from, n);
#endif
}

// Copy one chunk of a payload of payload_len bytes.
void copy_chunk(void* to, const void* from, std::size_t n,
                std::size_t payload_len)
{
    if (n >= streaming_min_bytes && payload_len >= prefault_min_bytes)
        copy_streaming(to, from, n);
    else
        std::memcpy(to, from, n);
}

// The destination of one pass. A counting pass has no data and only adds
// up used. A writing pass stops copying at capacity but keeps counting,
// so the caller can report both sizes.
struct out_buffer {
    unsigned char* data;
    std::size_t capacity;
    std::size_t used;
};

void out_bytes(R_outpstream_t stream, void* bytes, int n)
{
    auto* out = static_cast<out_buffer*>(stream->data);
    auto count = static_cast<std::size_t>(n);
    if (out->data != nullptr && out->used <= out->capacity &&
        count <= out->capacity - out->used) {
        copy_chunk(out->data + out->used, bytes, count, out->capacity);
    }
    out->used += count;
}

void out_char(R_outpstream_t stream, int c)
{
    unsigned char byte = static_cast<unsigned char>(c);
    out_bytes(stream, &byte, 1);
}

struct serialize_job {
    SEXP object;
    out_buffer* out;
};

SEXP run_serialize(void* data)
{
    auto* job = static_cast<serialize_job*>(data);
    R_outpstream_st stream;
    R_InitOutPStream(&stream, job->out, R_pstream_binary_format,
                     serialization_version, out_char, out_bytes, nullptr,
                     R_NilValue);
    R_Serialize(job->object, &stream);
    return R_NilValue;
}

void serialize_into(SEXP object, out_buffer& out)
{
    serialize_job job{object, &out};
    try {
        detail::guarded_fast(run_serialize, &job);
    } catch (const detail::r_failure& e) {
        throw std::runtime_error(std::string("serialize object: ") +
                                 e.what());
    }
}

// Map the pages of a large, freshly allocated buffer in one system call
// (MADV_POPULATE_WRITE, Linux 5.14 and later) instead of one page fault
// per 4 KB page as the copy reaches it. On a 2-core Debian 12 VM, filling
// 100 MB of fresh memory with memcpy took about 38 ms with it and 49 ms
// without it (serialize_bench, medians of 12 rounds). Older kernels
// reject the advice, and nothing changes.
//
// Two other variants did not hold up on that VM. Transparent huge pages
// (MADV_HUGEPAGE) filled 100 MB in about 25 ms while the machine was
// quiet, but stalled for 0.4 to 1.5 s in several runs. A second thread
// that populated from the far end while the copy ran took about 43 ms.
void prefault(void* data, std::size_t len)
{
#if defined(__linux__)
    if (len < prefault_min_bytes)
        return;
    auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    auto begin = reinterpret_cast<std::uintptr_t>(data);
    std::uintptr_t first = (begin + page - 1) & ~(page - 1);
    std::uintptr_t last = (begin + len) & ~(page - 1);
    if (last > first)
        madvise(reinterpret_cast<void*>(first), last - first,
                madvise_populate_write);
#else
    (void) data;
    (void) len;
#endif
}

// The source of unserialize. A read past the end raises an R error,
// which unwinds out of R_Unserialize into the guard, so R never reads
// memory outside the payload.
struct in_buffer {
    const unsigned char* data;
    std::size_t len;
    std::size_t pos;
    detail::vector_extent extent; // finds large vectors as R reads them
};

// Populate a large vector that R has just allocated, before the first
// chunk of its data is copied in. The extent is trusted only when the
// rest of the payload can fill it, so a misread stream never populates
// more memory than the payload would write.
void prefault_vector(in_buffer& in, void* bytes, std::size_t count)
{
    std::size_t vector_bytes = in.extent.bytes_of_vector_at(count);
    if (vector_bytes >= count && vector_bytes <= in.len - in.pos)
        prefault(bytes, vector_bytes);
}

void in_bytes(R_inpstream_t stream, void* bytes, int n)
{
    auto* in = static_cast<in_buffer*>(stream->data);
    auto count = static_cast<std::size_t>(n);
    if (n < 0 || count > in->len - in->pos)
        Rf_error("truncated payload: %d bytes needed at offset %zu, "
                 "only %zu left",
                 n, in->pos, in->len - in->pos);
    prefault_vector(*in, bytes, count);
    copy_chunk(bytes, in->data + in->pos, count, in->len);
    in->pos += count;
    in->extent.note_read(bytes, count);
}

int in_char(R_inpstream_t stream)
{
    unsigned char byte;
    in_bytes(stream, &byte, 1);
    return byte;
}

SEXP run_unserialize(void* data)
{
    auto* in = static_cast<in_buffer*>(data);
    R_inpstream_st stream;
    R_InitInPStream(&stream, in, R_pstream_any_format, in_char, in_bytes,
                    nullptr, R_NilValue);
    return R_Unserialize(&stream);
}

} // namespace

std::size_t serialized_size(SEXP object)
{
    out_buffer out{nullptr, 0, 0};
    serialize_into(object, out);
    return out.used;
}

void serialize_to(SEXP object, void* out, std::size_t len)
{
    prefault(out, len);
    out_buffer buffer{static_cast<unsigned char*>(out), len, 0};
    serialize_into(object, buffer);
    if (buffer.used != len)
        throw std::runtime_error(
            "serialize object: size changed: expected " +
            std::to_string(len) + " bytes, got " +
            std::to_string(buffer.used));
}

std::size_t serialize_up_to(SEXP object, void* out, std::size_t capacity)
{
    out_buffer buffer{static_cast<unsigned char*>(out), capacity, 0};
    serialize_into(object, buffer);
    return buffer.used;
}

Rcpp::RObject unserialize(const void* data, std::size_t len)
{
    if (data == nullptr && len > 0)
        throw std::invalid_argument("unserialize payload: null data");

    in_buffer in{static_cast<const unsigned char*>(data), len, 0, {}};
    Rcpp::RObject object;
    try {
        object = detail::guarded_fast(run_unserialize, &in);
    } catch (const detail::r_failure& e) {
        throw std::runtime_error(std::string("unserialize payload: ") +
                                 e.what());
    }
    // A payload carries exactly one object, so leftover bytes mean the
    // length or the content is wrong.
    if (in.pos != len)
        throw std::runtime_error(
            "unserialize payload: " + std::to_string(len - in.pos) +
            " bytes left after the object of " + std::to_string(in.pos) +
            " bytes");
    return object;
}

} // namespace sync
} // namespace mirai
