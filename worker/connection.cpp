#include "worker/detail/connection.hpp"

#include "dispatcher/log.h"
#include "dispatcher/socket_close.h"
#include "dispatcher/wire.h"

#include <nng/protocol/pair1/pair.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace mirai {
namespace worker {
namespace detail {

namespace {

// How long to wait between two dial attempts.
constexpr std::chrono::milliseconds dial_retry_interval(100);

// NNG errors that another dial attempt cannot fix: a malformed URL, an
// unknown transport, or a socket that is gone.
bool is_permanent_dial_error(int rv)
{
    return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL ||
        rv == NNG_ENOMEM || rv == NNG_ECLOSED;
}

void check(int rv, const char* operation)
{
    if (rv != 0) {
        throw std::runtime_error(std::string(operation) + ": " +
            nng_strerror(rv));
    }
}

// A hello frame: the header, this process's pid and its largest batch.
int make_hello(nng_msg** msg, std::uint32_t max_batch)
{
    int rv = nng_msg_alloc(msg, DSP_HEADER_SIZE + DSP_HELLO_SIZE);
    if (rv != 0) {
        return rv;
    }
    unsigned char* body = static_cast<unsigned char*>(nng_msg_body(*msg));
    dsp_wire_encode(body, DSP_FRAME_HELLO, 0, 0, DSP_HELLO_SIZE);
    body += DSP_HEADER_SIZE;
    dsp__put_u64(body, static_cast<uint64_t>(getpid()));
    dsp__put_u32(body + 8, max_batch);
    dsp__put_u32(body + 12, 0);
    return 0;
}

// The frame that gives tasks back: a result flagged returned for each,
// in a batch frame when there are several. nullptr when out of memory.
nng_msg* returned_frame(const std::vector<inbound_frame>& tasks)
{
    std::size_t count = tasks.size();
    std::size_t size = count * DSP_HEADER_SIZE;
    std::size_t header = count > 1 ? DSP_HEADER_SIZE : 0;
    nng_msg* msg;
    if (nng_msg_alloc(&msg, header + size) != 0) {
        return nullptr;
    }
    unsigned char* out = static_cast<unsigned char*>(nng_msg_body(msg));
    if (count > 1) {
        dsp_wire_encode(out, DSP_FRAME_BATCH, tasks[0].header.task_id,
            static_cast<std::uint32_t>(count), size);
        out += DSP_HEADER_SIZE;
    }
    for (const inbound_frame& task : tasks) {
        dsp_wire_encode(out, DSP_FRAME_RESULT, task.header.task_id,
            DSP_RESULT_RETURNED, 0);
        out += DSP_HEADER_SIZE;
    }
    return msg;
}

// A copy of one frame of a batch, as a message of its own.
nng_msg* copy_frame(const unsigned char* frame, std::size_t size)
{
    nng_msg* msg;
    if (nng_msg_alloc(&msg, size) != 0) {
        return nullptr;
    }
    std::memcpy(nng_msg_body(msg), frame, size);
    return msg;
}

} // namespace

connection::connection(inbox& box, autoexit_mode mode,
    std::uint32_t max_batch)
    : box_(box), mode_(mode), max_batch_(max_batch)
{
    check(nng_pair1_open(&socket_), "open pair1 socket");
    // Room for cancel acknowledgements, which are sent without blocking
    // from the receive callback while the R thread may be sending a result.
    check(nng_socket_set_int(socket_, NNG_OPT_SENDBUF, 16),
        "set send buffer");
    int rv = nng_aio_alloc(&recv_aio_, on_receive, this);
    if (rv == 0) {
        rv = nng_aio_alloc(&hello_aio_, on_hello_sent, this);
    }
    if (rv == 0) {
        rv = nng_pipe_notify(socket_, NNG_PIPE_EV_ADD_PRE, on_pipe_event,
            this);
    }
    if (rv == 0) {
        rv = nng_pipe_notify(socket_, NNG_PIPE_EV_ADD_POST, on_pipe_event,
            this);
    }
    if (rv == 0) {
        rv = nng_pipe_notify(socket_, NNG_PIPE_EV_REM_POST, on_pipe_event,
            this);
    }
    if (rv != 0) {
        nng_close(socket_);
        if (recv_aio_ != nullptr) {
            nng_aio_free(recv_aio_);
        }
        if (hello_aio_ != nullptr) {
            nng_aio_free(hello_aio_);
        }
        check(rv, "set up pair1 socket");
    }
}

connection::~connection()
{
    // Stop the receive first, so that no receive is re-armed while
    // nng_close runs: NNG 1.5.2 can hang in nng_close when an operation
    // starts on the socket during the close. A stopped aio fails every
    // later operation, so the callback cannot re-arm it.
    if (recv_aio_ != nullptr) {
        nng_aio_stop(recv_aio_);
    }
    // Bounded: a close stuck in NNG 1.5.2 (dispatcher/socket_close.h)
    // must not keep the daemon alive. The aios are then left to the
    // process exit, which follows.
    if (!dsp_socket_close_within(socket_, 1000)) {
        return;
    }
    nng_aio_free(recv_aio_);
    nng_aio_free(hello_aio_);
}

void connection::dial(const std::string& url, int timeout_ms)
{
    using clock = std::chrono::steady_clock;
    auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms);
    url_ = url;

    int rv;
    while ((rv = nng_dial(socket_, url.c_str(), &dialer_, 0)) != 0) {
        if (is_permanent_dial_error(rv)) {
            throw std::runtime_error("connect to '" + url + "': " +
                nng_strerror(rv));
        }
        auto now = clock::now();
        if (now >= deadline) {
            throw std::runtime_error("connect to '" + url +
                "': timed out after " + std::to_string(timeout_ms) +
                " ms: " + nng_strerror(rv));
        }
        std::this_thread::sleep_for(
            std::min<clock::duration>(dial_retry_interval, deadline - now));
    }

    // The dialer redials after the pipe closes. A daemon that does not
    // stay for the next host exits then instead, so its next attempt is
    // pushed far out. on_pipe_event also rejects a second pipe made
    // before the exit.
    if (mode_ == autoexit_mode::never) {
        nng_dialer_set_ms(dialer_, NNG_OPT_RECONNMAXT, 1000);
        nng_dialer_set_ms(dialer_, NNG_OPT_RECONNMINT, 100);
    } else {
        nng_dialer_set_ms(dialer_, NNG_OPT_RECONNMAXT, 0);
        nng_dialer_set_ms(dialer_, NNG_OPT_RECONNMINT, 3600 * 1000);
    }
    dsp_log(DSP_LOG_INFO, "WORKER-CONNECTED", "connect to '%s': connected",
        url.c_str());
}

void connection::start_receiving()
{
    nng_recv_aio(socket_, recv_aio_);
}

void connection::on_pipe_event(nng_pipe pipe, nng_pipe_ev event, void* arg)
{
    connection* self = static_cast<connection*>(arg);
    int id = nng_pipe_id(pipe);

    bool may_reconnect = self->mode_ == autoexit_mode::never;
    if (event == NNG_PIPE_EV_ADD_PRE) {
        int expected = -1;
        bool is_first = self->connections_.load() == 0;
        if ((!is_first && !may_reconnect) ||
            !self->pipe_id_.compare_exchange_strong(expected, id)) {
            nng_pipe_close(pipe);
            return;
        }
        self->connections_++;
        return;
    }
    if (event == NNG_PIPE_EV_ADD_POST && id == self->pipe_id_.load() &&
        self->connections_.load() > 1) {
        // The first hello waits for R; later ones go out at once.
        dsp_log(DSP_LOG_NOTICE, "WORKER-RECONNECTED",
            "connect to '%s': connected again", self->url_.c_str());
        self->send_hello_async();
        return;
    }
    if (event == NNG_PIPE_EV_REM_POST) {
        int expected = id;
        if (self->pipe_id_.compare_exchange_strong(expected, -1)) {
            self->handle_pipe_closed();
        }
    }
}

void connection::handle_pipe_closed()
{
    dsp_log(DSP_LOG_NOTICE, "WORKER-CONNECTION-LOST",
        "receive from '%s': connection closed by the dispatcher%s",
        url_.c_str(), mode_ == autoexit_mode::never ? ", redialing" : "");
    if (mode_ == autoexit_mode::never) {
        // Tasks of a batch that had not started belong to a host that is
        // gone; only the running one, if any, finishes.
        for (const inbound_frame& task : box_.take_queued_tasks()) {
            nng_msg_free(task.msg);
        }
    } else if (mode_ == autoexit_mode::immediate) {
        box_.request_stop(exit_normal, "connection to the dispatcher closed");
    } else if (mode_ == autoexit_mode::finish) {
        box_.request_finish(exit_normal,
            "connection to the dispatcher closed, the running task "
            "finishes first");
    }
}

void connection::send_hello_async()
{
    nng_msg* msg;
    int rv = make_hello(&msg, max_batch_);
    if (rv != 0) {
        dsp_log(DSP_LOG_ERROR, "WORKER-SEND-FAILED",
            "send hello to '%s': %s", url_.c_str(), nng_strerror(rv));
        return;
    }
    nng_aio_set_msg(hello_aio_, msg);
    nng_send_aio(socket_, hello_aio_);
}

void connection::on_hello_sent(void* arg)
{
    connection* self = static_cast<connection*>(arg);
    int rv = nng_aio_result(self->hello_aio_);
    if (rv != 0) {
        nng_msg_free(nng_aio_get_msg(self->hello_aio_));
        nng_aio_set_msg(self->hello_aio_, nullptr);
        if (rv != NNG_ECLOSED) {
            dsp_log(DSP_LOG_WARN, "WORKER-SEND-FAILED",
                "send hello to '%s': %s", self->url_.c_str(),
                nng_strerror(rv));
        }
    }
}

void connection::on_receive(void* arg)
{
    connection* self = static_cast<connection*>(arg);
    int rv = nng_aio_result(self->recv_aio_);

    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
        return;
    }
    if (rv != 0) {
        dsp_log(DSP_LOG_WARN, "WORKER-RECEIVE-FAILED",
            "receive from '%s': %s", self->url_.c_str(), nng_strerror(rv));
    } else {
        self->handle_frame(nng_aio_get_msg(self->recv_aio_));
    }
    nng_recv_aio(self->socket_, self->recv_aio_);
}

// Stop the daemon after a frame it cannot accept. As everywhere in
// mirai-cpp, a malformed frame closes the connection, which for a daemon
// means exit.
void connection::reject_frame(nng_msg* msg, const std::string& problem)
{
    dsp_log(DSP_LOG_ERROR, "WORKER-FRAME-INVALID",
        "receive frame from '%s': %s", url_.c_str(), problem.c_str());
    nng_msg_free(msg);
    box_.request_stop(exit_failure, "invalid frame");
}

void connection::handle_frame(nng_msg* msg)
{
    dsp_frame_header header;
    dsp_wire_status status =
        dsp_wire_decode(nng_msg_body(msg), nng_msg_len(msg), &header);
    if (status != DSP_WIRE_OK) {
        reject_frame(msg, dsp_wire_strerror(status));
        return;
    }
    int pipe_id = nng_pipe_id(nng_msg_get_pipe(msg));
    switch (header.type) {
    case DSP_FRAME_TASK:
    case DSP_FRAME_SETUP:
        box_.push(inbound_frame{header, msg, false, false, pipe_id});
        return;
    case DSP_FRAME_BATCH:
        handle_batch(msg, header, pipe_id);
        return;
    case DSP_FRAME_CANCEL:
        box_.cancel(header.task_id);
        acknowledge(DSP_FRAME_CANCEL, header.task_id);
        break;
    case DSP_FRAME_RECALL:
        acknowledge(DSP_FRAME_RECALL, 0);
        give_back_queued(pipe_id);
        break;
    case DSP_FRAME_EXIT:
        box_.push_exit();
        break;
    default:
        reject_frame(msg, "unexpected frame type " +
            std::to_string(header.type) + " for a daemon");
        return;
    }
    nng_msg_free(msg);
}

// Split a batch into task frames of their own and queue them together.
// Takes msg.
void connection::handle_batch(nng_msg* msg, const dsp_frame_header& header,
    int pipe_id)
{
    if (header.flags == 0 || header.flags > max_batch_) {
        reject_frame(msg, "batch of " + std::to_string(header.flags) +
            " tasks, expected 1 to " + std::to_string(max_batch_));
        return;
    }
    const unsigned char* payload =
        static_cast<const unsigned char*>(nng_msg_body(msg)) +
        DSP_HEADER_SIZE;
    std::size_t len = static_cast<std::size_t>(header.payload_len);
    std::size_t offset = 0;
    std::vector<inbound_frame> frames;
    frames.reserve(header.flags);
    std::string problem;
    while (offset < len && problem.empty()) {
        inbound_frame frame{};
        frame.pipe_id = pipe_id;
        const unsigned char* sub;
        std::size_t size;
        dsp_wire_status status = dsp_wire_next_frame(payload, len, &offset,
            &frame.header, &sub, &size);
        if (status != DSP_WIRE_OK) {
            problem = dsp_wire_strerror(status);
        } else if (frame.header.type != DSP_FRAME_TASK) {
            problem = "frame type " + std::to_string(frame.header.type) +
                " in a batch, expected tasks only";
        } else if (frames.size() == header.flags) {
            problem = "more frames than the batch counts";
        } else if ((frame.msg = copy_frame(sub, size)) == nullptr) {
            problem = "copy a task: out of memory";
        } else {
            frames.push_back(frame);
        }
    }
    if (problem.empty() && frames.size() != header.flags) {
        problem = "batch counts " + std::to_string(header.flags) +
            " tasks, has " + std::to_string(frames.size());
    }
    if (!problem.empty()) {
        for (inbound_frame& frame : frames) {
            nng_msg_free(frame.msg);
        }
        reject_frame(msg, "batch: " + problem);
        return;
    }
    nng_msg_free(msg);
    box_.push_all(frames);
}

bool connection::send(nng_msg* msg)
{
    int rv = nng_sendmsg(socket_, msg, 0);
    if (rv != 0) {
        dsp_log(DSP_LOG_WARN, "WORKER-SEND-FAILED", "send frame to '%s': %s",
            url_.c_str(), nng_strerror(rv));
        nng_msg_free(msg);
        return false;
    }
    return true;
}

// Handle a recall on this thread, while the R thread may be busy with
// a long task: every queued task goes back in one frame, unevaluated.
void connection::give_back_queued(int pipe_id)
{
    std::vector<inbound_frame> tasks = box_.take_queued_tasks();
    std::vector<inbound_frame> current;
    for (const inbound_frame& task : tasks) {
        if (task.pipe_id == pipe_id) {
            current.push_back(task);
        } else {
            nng_msg_free(task.msg); // sent by a dispatcher now gone
        }
    }
    if (current.empty()) {
        return;
    }
    nng_msg* msg = returned_frame(current);
    if (msg != nullptr && nng_sendmsg(socket_, msg, NNG_FLAG_NONBLOCK) == 0) {
        for (const inbound_frame& task : current) {
            nng_msg_free(task.msg);
        }
        return;
    }
    if (msg != nullptr) {
        nng_msg_free(msg);
    }
    dsp_log(DSP_LOG_INFO, "WORKER-RECALL-DEFERRED",
        "give back %zu tasks to '%s' from task %llu: cannot send now, the "
        "R thread sends them after its task", current.size(), url_.c_str(),
        (unsigned long long) current[0].header.task_id);
    box_.push_front_returned(std::move(current));
}

void connection::acknowledge(dsp_frame_type type, std::uint64_t id)
{
    nng_msg* msg;
    int rv = nng_msg_alloc(&msg, DSP_HEADER_SIZE);
    if (rv == 0) {
        dsp_wire_encode(static_cast<unsigned char*>(nng_msg_body(msg)), type,
            id, 0, 0);
        rv = nng_sendmsg(socket_, msg, NNG_FLAG_NONBLOCK);
        if (rv != 0) {
            nng_msg_free(msg);
        }
    }
    if (rv != 0) {
        dsp_log(DSP_LOG_WARN, "WORKER-SEND-FAILED",
            "acknowledge %s frame %llu to '%s': %s",
            type == DSP_FRAME_CANCEL ? "cancel" : "recall",
            (unsigned long long) id, url_.c_str(), nng_strerror(rv));
    }
}

bool connection::send_hello()
{
    nng_msg* msg;
    int rv = make_hello(&msg, max_batch_);
    if (rv != 0) {
        dsp_log(DSP_LOG_ERROR, "WORKER-SEND-FAILED",
            "send hello to '%s': %s", url_.c_str(), nng_strerror(rv));
        return false;
    }
    return send(msg);
}

// A daemon sends an exit frame to retire, and the dispatcher replies
// with one.
void connection::set_send_timeout(int timeout_ms)
{
    nng_socket_set_ms(socket_, NNG_OPT_SENDTIMEO, timeout_ms);
}

bool connection::send_retire()
{
    nng_msg* msg;
    int rv = nng_msg_alloc(&msg, DSP_HEADER_SIZE);
    if (rv != 0) {
        dsp_log(DSP_LOG_ERROR, "WORKER-SEND-FAILED",
            "send retire notice to '%s': %s", url_.c_str(), nng_strerror(rv));
        return false;
    }
    dsp_wire_encode(static_cast<unsigned char*>(nng_msg_body(msg)),
        DSP_FRAME_EXIT, 0, 0, 0);
    return send(msg);
}

} // namespace detail
} // namespace worker
} // namespace mirai
