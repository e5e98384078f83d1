// R unserialization from a payload, in either layout: a plain R stream,
// or a stream with out-of-band buffers (sync/detail/payload_layout.hpp).
// With an owner for the payload's memory, large out-of-band vectors become
// borrowed vectors over the payload instead of copies.
#include "sync/serialize.hpp"

#include "sync/detail/borrowed_vector.hpp"
#include "sync/detail/bulk_copy.hpp"
#include "sync/detail/guard.hpp"
#include "sync/detail/payload_holder.hpp"
#include "sync/detail/payload_layout.hpp"
#include "sync/detail/vector_extent.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mirai {
namespace sync {
namespace {

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
        detail::prefault(bytes, vector_bytes);
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
    detail::copy_chunk(bytes, in->data + in->pos, count, in->len);
    in->pos += count;
    in->extent.note_read(bytes, count);
}

int in_char(R_inpstream_t stream)
{
    unsigned char byte;
    in_bytes(stream, &byte, 1);
    return byte;
}

// Copy n bytes into a fresh vector, in parallel when large. Called
// from R's unserializer, so nothing may throw.
void copy_into_vector(void* to, const void* from, std::size_t n) noexcept
{
    try {
        detail::copy_spans({{to, from, n}});
    } catch (...) {
        std::memcpy(to, from, n); // no memory for the span list
    }
}

// The out-of-band buffers of one payload. take() rejects a second take
// of a buffer, and read_stream() a buffer never taken.
class buffer_table final : public detail::buffer_source {
public:
    buffer_table(unsigned char* payload, const detail::payload_parts& parts)
        : payload_(payload), parts_(parts),
          is_taken_(parts.buffers.size(), 0)
    {
    }

    // The owner that borrowed vectors keep alive; R_NilValue to copy.
    SEXP holder = R_NilValue;

    SEXP take(int index, SEXPTYPE type, R_xlen_t length) override;

    std::size_t untaken() const
    {
        std::size_t count = 0;
        for (char taken : is_taken_)
            count += taken ? 0 : 1;
        return count;
    }

private:
    unsigned char* payload_;
    const detail::payload_parts& parts_;
    std::vector<char> is_taken_;
};

SEXP buffer_table::take(int index, SEXPTYPE type, R_xlen_t length)
{
    std::size_t count = parts_.buffers.size();
    if (index < 0 || static_cast<std::size_t>(index) >= count)
        Rf_error("out-of-band buffer %d does not exist: the payload has %zu",
                 index, count);
    if (is_taken_[index])
        Rf_error("out-of-band buffer %d is referenced twice", index);
    std::size_t element = detail::borrowable_element_size(type);
    const detail::payload_buffer& buffer = parts_.buffers[index];
    if (buffer.length % element != 0 ||
        buffer.length / element != static_cast<std::size_t>(length))
        Rf_error("out-of-band buffer %d has %zu bytes, expected %lld "
                 "elements of %zu bytes",
                 index, buffer.length, static_cast<long long>(length),
                 element);
    is_taken_[index] = 1;

    unsigned char* at = payload_ + buffer.offset;
    std::size_t alignment = element > 8 ? 8 : element;
    if (holder != R_NilValue &&
        reinterpret_cast<std::uintptr_t>(at) % alignment == 0)
        return detail::make_borrowed_vector(type, at, length, holder);

    SEXP vector = PROTECT(Rf_allocVector(type, length));
    copy_into_vector(DATAPTR(vector), at, buffer.length);
    UNPROTECT(1);
    return vector;
}

struct unserialize_job {
    in_buffer* in;
    buffer_table* table;
    detail::held_payload* payload; // taken by a holder when set
    bool is_payload_taken;
};

SEXP run_unserialize(void* data)
{
    auto* job = static_cast<unserialize_job*>(data);
    detail::register_borrowed_vectors();
    int protected_count = 0;
    if (job->payload != nullptr) {
        SEXP holder = PROTECT(detail::make_payload_holder(job->payload));
        protected_count = 1;
        job->is_payload_taken = true;
        job->table->holder = holder;
    }
    R_inpstream_st stream;
    R_InitInPStream(&stream, job->in, R_pstream_any_format, in_char,
                    in_bytes, nullptr, R_NilValue);
    SEXP object = R_Unserialize(&stream);
    UNPROTECT(protected_count);
    return object;
}

// Run R's unserializer over in, with table (which may be null) for the
// out-of-band buffers, and check that it read all of it.
Rcpp::RObject read_stream(in_buffer& in, buffer_table* table,
                          std::unique_ptr<detail::held_payload> payload)
{
    unserialize_job job{&in, table, payload.get(), false};
    Rcpp::RObject object;
    try {
        detail::scoped_buffer_source source(table);
        object = detail::guarded_fast(run_unserialize, &job);
    } catch (const detail::r_failure& e) {
        if (job.is_payload_taken)
            payload.release(); // the holder's finalizer deletes it
        throw std::runtime_error(std::string("unserialize payload: ") +
                                 e.what());
    }
    if (job.is_payload_taken)
        payload.release();
    // A payload carries exactly one object, so leftover bytes mean the
    // length or the content is wrong.
    if (in.pos != in.len)
        throw std::runtime_error(
            "unserialize payload: " + std::to_string(in.len - in.pos) +
            " bytes left after the object of " + std::to_string(in.pos) +
            " bytes");
    if (table != nullptr && table->untaken() != 0)
        throw std::runtime_error(
            "unserialize payload: " + std::to_string(table->untaken()) +
            " out-of-band buffers are never referenced");
    return object;
}

// True when borrowing is worth keeping the whole payload alive: the
// out-of-band buffers are at least half of it.
bool is_worth_borrowing(const detail::payload_parts& parts, std::size_t len)
{
    std::size_t buffers = 0;
    for (const detail::payload_buffer& buffer : parts.buffers)
        buffers += buffer.length;
    return buffers >= len - buffers;
}

} // namespace

Rcpp::RObject unserialize(const void* data, std::size_t len,
                          std::shared_ptr<const void> owner)
{
    if (data == nullptr && len > 0)
        throw std::invalid_argument("unserialize payload: null data");
    const auto* bytes = static_cast<const unsigned char*>(data);
    if (!detail::has_payload_layout(bytes, len)) {
        in_buffer in{bytes, len, 0, {}};
        return read_stream(in, nullptr, nullptr);
    }

    detail::payload_parts parts;
    std::string problem = detail::read_payload_layout(bytes, len, parts);
    if (!problem.empty())
        throw std::runtime_error("unserialize payload: " + problem);
    // Borrowed vectors may be written in place, which the owner allows.
    buffer_table table(const_cast<unsigned char*>(bytes), parts);
    std::unique_ptr<detail::held_payload> borrowed_payload;
    if (owner && is_worth_borrowing(parts, len)) {
        detail::collect_before_borrowing(len);
        borrowed_payload = std::make_unique<detail::held_payload>(
            detail::held_payload{std::move(owner), len});
    }
    in_buffer in{bytes + parts.stream_offset, parts.stream_length, 0, {}};
    return read_stream(in, &table, std::move(borrowed_payload));
}

} // namespace sync
} // namespace mirai
