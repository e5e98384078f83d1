// R serialization straight into caller-owned memory. R 4.2 calls the
// stream callbacks below with whole vector chunks of up to 64 KB, so each
// call is one memcpy. Large vectors within reach go out of band (see
// sync/detail/payload_layout.hpp): R writes a reference in the stream,
// and their elements are copied into the payload afterwards, in parallel.
#include "sync/serialize.hpp"

#include "sync/detail/borrowed_vector.hpp"
#include "sync/detail/bulk_copy.hpp"
#include "sync/detail/guard.hpp"
#include "sync/detail/large_vectors.hpp"
#include "sync/detail/payload_layout.hpp"

#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace mirai {
namespace sync {
namespace {

// Serialization version 3, as mirai and R >= 3.5 use.
constexpr int serialization_version = 3;

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
        detail::copy_chunk(out->data + out->used, bytes, count,
                           out->capacity);
    }
    out->used += count;
}

void out_char(R_outpstream_t stream, int c)
{
    unsigned char byte = static_cast<unsigned char>(c);
    out_bytes(stream, &byte, 1);
}

// The out-of-band buffers of one pass, in the order R's serializer
// references them. Their destinations are set once the layout is known.
class buffer_list final : public detail::buffer_sink {
public:
    bool is_enabled = false;
    std::vector<detail::copy_span> spans;

    int add(const void* data, std::size_t bytes) noexcept override
    {
        if (!is_enabled || spans.size() >= INT_MAX)
            return -1;
        try {
            spans.push_back({nullptr, data, bytes});
        } catch (...) {
            return -1; // out of memory: R writes this vector in the stream
        }
        return static_cast<int>(spans.size() - 1);
    }
};

struct serialize_job {
    SEXP object;
    out_buffer* out;
    buffer_list* buffers;
};

// Leave room for the layout's prefix before the stream.
void reserve_prefix(out_buffer& out)
{
    if (out.data == nullptr || out.capacity < detail::payload_prefix_size) {
        out.data = nullptr;
        out.capacity = 0;
        return;
    }
    out.data += detail::payload_prefix_size;
    out.capacity -= detail::payload_prefix_size;
}

SEXP run_serialize(void* data)
{
    auto* job = static_cast<serialize_job*>(data);
    detail::register_borrowed_vectors();
    SEXP target = job->object;
    int protected_count = 0;
    if (detail::count_large_vectors(target) > 0) {
        job->buffers->is_enabled = true;
        reserve_prefix(*job->out);
        target = PROTECT(detail::lend_large_vectors(target));
        protected_count = 1;
    } else if (job->out->data != nullptr) {
        detail::prefault(job->out->data, job->out->capacity);
    }
    R_outpstream_st stream;
    R_InitOutPStream(&stream, job->out, R_pstream_binary_format,
                     serialization_version, out_char, out_bytes, nullptr,
                     R_NilValue);
    R_Serialize(target, &stream);
    UNPROTECT(protected_count);
    return R_NilValue;
}

// Write the layout and copy the out-of-band buffers into data, unless
// the payload would exceed capacity. Returns the payload's size.
std::size_t place_buffers(buffer_list& buffers, std::size_t stream_length,
                          unsigned char* data, std::size_t capacity,
                          std::size_t receiver_offset)
{
    std::vector<std::size_t> lengths;
    for (const detail::copy_span& span : buffers.spans)
        lengths.push_back(span.n);
    detail::payload_parts parts;
    try {
        std::size_t bias = (16 - receiver_offset % 16) % 16;
        parts = detail::plan_payload(stream_length, lengths, bias);
    } catch (const std::length_error& e) {
        throw std::runtime_error(std::string("serialize object: ") +
                                 e.what());
    }
    std::size_t size = detail::payload_size(parts);
    if (data == nullptr || size > capacity)
        return size;
    detail::write_payload_layout(data, parts);
    for (std::size_t i = 0; i < buffers.spans.size(); i++)
        buffers.spans[i].to = data + parts.buffers[i].offset;
    detail::copy_spans(buffers.spans);
    return size;
}

// Serialize object into data, which has capacity bytes (data may be null
// to count only), and return the payload's size. data contains the
// whole payload only when the size is at most capacity.
std::size_t write_payload(SEXP object, unsigned char* data,
                          std::size_t capacity, std::size_t receiver_offset)
{
    out_buffer out{data, capacity, 0};
    buffer_list buffers;
    serialize_job job{object, &out, &buffers};
    try {
        detail::scoped_buffer_sink sink(&buffers);
        detail::guarded_fast(run_serialize, &job);
    } catch (const detail::r_failure& e) {
        throw std::runtime_error(std::string("serialize object: ") +
                                 e.what());
    }
    if (!buffers.is_enabled)
        return out.used;
    return place_buffers(buffers, out.used, data, capacity,
                         receiver_offset);
}

} // namespace

std::size_t serialized_size(SEXP object, std::size_t receiver_offset)
{
    return write_payload(object, nullptr, 0, receiver_offset);
}

void serialize_to(SEXP object, void* out, std::size_t len,
                  std::size_t receiver_offset)
{
    std::size_t size = write_payload(object, static_cast<unsigned char*>(out),
                                     len, receiver_offset);
    if (size != len)
        throw std::runtime_error(
            "serialize object: size changed: expected " +
            std::to_string(len) + " bytes, got " + std::to_string(size));
}

std::size_t serialize_up_to(SEXP object, void* out, std::size_t capacity,
                            std::size_t receiver_offset)
{
    return write_payload(object, static_cast<unsigned char*>(out), capacity,
                         receiver_offset);
}

} // namespace sync
} // namespace mirai
