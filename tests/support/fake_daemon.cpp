// The fake daemon's thread: receive with a short timeout so that delayed
// replies and stop requests are noticed, handle frames strictly in order
// like a real daemon, and queue frames that arrive while a task "runs".
#include "tests/support/fake_daemon.hpp"

#include "dispatcher/socket_close.h"

#include <nng/protocol/pair1/pair.h>

#include <cstring>
#include <stdexcept>

namespace mirai {
namespace test {

namespace {

constexpr nng_duration poll_ms = 5;

} // namespace

fake_daemon::fake_daemon(const std::string& url, options opts)
    : opts_(std::move(opts))
{
    int rv = nng_pair1_open(&sock_);
    if (rv != 0) {
        throw std::runtime_error(
            std::string("open fake daemon socket: ") + nng_strerror(rv));
    }
    nng_pipe_notify(sock_, NNG_PIPE_EV_ADD_POST, pipe_cb, this);
    nng_pipe_notify(sock_, NNG_PIPE_EV_REM_POST, pipe_cb, this);
    nng_socket_set_ms(sock_, NNG_OPT_RECVTIMEO, poll_ms);
    // A peer that went away must not stall this thread for good.
    nng_socket_set_ms(sock_, NNG_OPT_SENDTIMEO, 2000);
    // A dropped connection stays dropped for the length of a test.
    nng_socket_set_ms(sock_, NNG_OPT_RECONNMINT, 60000);
    nng_socket_set_ms(sock_, NNG_OPT_RECONNMAXT, 60000);
    if ((rv = nng_dial(sock_, url.c_str(), nullptr, 0)) != 0) {
        nng_close(sock_);
        throw std::runtime_error("dial '" + url + "': " + nng_strerror(rv));
    }
    if (opts_.sends_hello) {
        std::string hello(opts_.max_batch > 0 ? DSP_HELLO_SIZE : 8, '\0');
        for (int i = 0; i < 8; i++) {
            hello[i] = static_cast<char>(opts_.pid >> (8 * i));
        }
        if (opts_.max_batch > 0) {
            dsp__put_u32(reinterpret_cast<unsigned char*>(&hello[8]),
                opts_.max_batch);
        }
        send_frame(DSP_FRAME_HELLO, 0, 0, hello);
    }
    thread_ = std::thread([this] { run(); });
}

fake_daemon::fake_daemon(const std::string& url, uint64_t pid)
    : fake_daemon(url, options{pid, true, false, {}, 0})
{
}

fake_daemon::~fake_daemon()
{
    is_stopping_ = true;
    if (thread_.joinable()) {
        thread_.join();
    }
    close_socket();
}

void fake_daemon::close_socket()
{
    std::lock_guard<std::mutex> guard(close_lock_);
    if (!is_closed_) {
        is_closed_ = true;
        // Bounded, as in the dispatcher: NNG 1.5.2 can hang a close.
        dsp_socket_close_within(sock_, 3000);
    }
}

void fake_daemon::kill()
{
    // Drop the connection by closing its pipe, not the socket: in NNG 1.5.2
    // an nng_close of a socket whose ipc pipe is busy can hang for good
    // (and every later close in the process with it), while a pipe close
    // only schedules the teardown. The socket itself is closed by the
    // destructor, once it has no pipe left. A redial is 60 s away.
    is_stopping_ = true;
    if (thread_.joinable()) {
        thread_.join();
    }
    nng_pipe pipe;
    {
        std::lock_guard<std::mutex> guard(lock_);
        pipe = pipe_;
    }
    nng_pipe_close(pipe);
    wait_disconnected(std::chrono::seconds(5));
}

std::string fake_daemon::encode(uint16_t type, uint64_t id, uint32_t flags,
    const std::string& payload)
{
    std::string bytes(DSP_HEADER_SIZE, '\0');
    dsp_wire_encode(reinterpret_cast<unsigned char*>(&bytes[0]),
        static_cast<dsp_frame_type>(type), id, flags, payload.size());
    return bytes + payload;
}

void fake_daemon::send_raw(const std::string& bytes)
{
    // Sending on a closed socket fails; tests that kill check elsewhere.
    nng_send(sock_, const_cast<char*>(bytes.data()), bytes.size(), 0);
}

void fake_daemon::send_frame(uint16_t type, uint64_t id, uint32_t flags,
    const std::string& payload)
{
    send_raw(encode(type, id, flags, payload));
}

std::vector<frame> fake_daemon::received() const
{
    std::lock_guard<std::mutex> guard(lock_);
    return received_;
}

size_t fake_daemon::count(uint16_t type) const
{
    std::lock_guard<std::mutex> guard(lock_);
    size_t n = 0;
    for (const frame& f : received_) {
        n += f.type == type ? 1 : 0;
    }
    return n;
}

bool fake_daemon::wait_count(uint16_t type, size_t n,
    std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock<std::mutex> guard(lock_);
    return changed_.wait_until(guard, deadline, [&] {
        size_t seen = 0;
        for (const frame& f : received_) {
            seen += f.type == type ? 1 : 0;
        }
        return seen >= n;
    });
}

bool fake_daemon::wait_disconnected(std::chrono::milliseconds timeout)
{
    std::unique_lock<std::mutex> guard(lock_);
    return changed_.wait_for(guard, timeout, [&] { return disconnects_ > 0; });
}

void fake_daemon::pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void* arg)
{
    auto* self = static_cast<fake_daemon*>(arg);
    std::lock_guard<std::mutex> guard(self->lock_);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        self->pipe_ = pipe;
        return;
    }
    self->disconnects_++;
    self->changed_.notify_all();
}

task_reply fake_daemon::echo(const frame& task)
{
    task_reply reply;
    reply.payload = task.payload;
    if (task.payload.compare(0, 6, "sleep:") == 0) {
        reply.delay = std::chrono::milliseconds(
            std::stoll(task.payload.substr(6)));
    }
    return reply;
}

void fake_daemon::run()
{
    while (!is_stopping_) {
        nng_msg* msg = nullptr;
        int rv = nng_recvmsg(sock_, &msg, 0);
        if (rv == NNG_ECLOSED) {
            return;
        }
        if (rv == 0) {
            frame f;
            dsp_frame_header hdr;
            const char* body = static_cast<const char*>(nng_msg_body(msg));
            if (dsp_wire_decode(body, nng_msg_len(msg), &hdr) ==
                DSP_WIRE_OK) {
                f = frame{hdr.type, hdr.task_id, hdr.flags,
                    std::string(body + DSP_HEADER_SIZE, hdr.payload_len)};
            }
            nng_pipe pipe = nng_msg_get_pipe(msg);
            nng_msg_free(msg);
            if (has_exited_) {
                continue;
            }
            if (f.type == DSP_FRAME_EXIT) {
                // Hang up like a daemon that exits, but close the pipe
                // rather than the socket: an nng_close here, while the
                // dispatcher in this same process closes its own socket,
                // can hang both in NNG 1.5.2. A real daemon closes in
                // its own process. Later frames are read and dropped.
                has_exited_ = true;
                nng_pipe_close(pipe);
            }
            record(f);
            if (f.type == DSP_FRAME_BATCH) {
                const auto* payload =
                    reinterpret_cast<const unsigned char*>(f.payload.data());
                size_t offset = 0;
                dsp_frame_header sub;
                const unsigned char* bytes;
                size_t size;
                while (dsp_wire_next_frame(payload, f.payload.size(),
                           &offset, &sub, &bytes, &size) == DSP_WIRE_OK) {
                    frame task{sub.type, sub.task_id, sub.flags,
                        std::string(reinterpret_cast<const char*>(bytes) +
                                DSP_HEADER_SIZE,
                            sub.payload_len)};
                    record(task);
                    handle(task);
                }
            } else {
                handle(f);
            }
        }
        if (!has_exited_ && has_pending_ && pending_.reply.is_sent &&
            std::chrono::steady_clock::now() >= pending_.due) {
            finish_task(pending_.reply.flags, pending_.reply.payload);
        }
    }
}

void fake_daemon::record(const frame& f)
{
    std::lock_guard<std::mutex> guard(lock_);
    received_.push_back(f);
    changed_.notify_all();
}

void fake_daemon::handle(const frame& f)
{
    switch (f.type) {
    case DSP_FRAME_TASK:
    case DSP_FRAME_SETUP:
        if (has_pending_) {
            backlog_.push_back(f);
        } else {
            start_task(f);
        }
        break;
    case DSP_FRAME_CANCEL:
        if (opts_.max_batch > 0) {
            send_frame(DSP_FRAME_CANCEL, f.id, 0, "");
            cancelled_.push_back(f.id);
        }
        if (has_pending_ && pending_.id == f.id && !opts_.ignores_cancel) {
            finish_task(DSP_RESULT_INTERRUPT, "interrupted");
        }
        break;
    case DSP_FRAME_RECALL:
        if (opts_.max_batch > 0) {
            send_frame(DSP_FRAME_RECALL, 0, 0, "");
            give_back_backlog();
        }
        break;
    default:
        break;
    }
}

void fake_daemon::give_back_backlog()
{
    std::deque<frame> rest;
    for (const frame& f : backlog_) {
        if (f.type == DSP_FRAME_TASK) {
            send_frame(DSP_FRAME_RESULT, f.id, DSP_RESULT_RETURNED, "");
        } else {
            rest.push_back(f);
        }
    }
    backlog_.swap(rest);
}

void fake_daemon::start_task(const frame& f)
{
    if (f.type == DSP_FRAME_SETUP) {
        send_frame(DSP_FRAME_SETUP, f.id, DSP_RESULT_VALUE, f.payload);
        return;
    }
    for (uint64_t id : cancelled_) {
        if (id == f.id) {
            send_frame(DSP_FRAME_RESULT, f.id, DSP_RESULT_INTERRUPT, "");
            return;
        }
    }
    task_reply reply = opts_.on_task ? opts_.on_task(f) : echo(f);
    if (reply.is_sent && reply.delay.count() == 0) {
        send_frame(DSP_FRAME_RESULT, f.id, reply.flags, reply.payload);
        return;
    }
    has_pending_ = true;
    pending_ = pending_task{
        f.id, reply, std::chrono::steady_clock::now() + reply.delay};
}

void fake_daemon::finish_task(uint32_t flags, const std::string& payload)
{
    send_frame(DSP_FRAME_RESULT, pending_.id, flags, payload);
    has_pending_ = false;
    drain_backlog();
}

void fake_daemon::drain_backlog()
{
    while (!has_pending_ && !backlog_.empty()) {
        frame f = backlog_.front();
        backlog_.pop_front();
        start_task(f);
    }
}

} // namespace test
} // namespace mirai
