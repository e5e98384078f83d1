// The pool's members: receive, rewrite the frame's header in place and
// send the same message back, then receive again. One frame is handled at
// a time per member, as a real daemon does.
#include "tests/support/fake_daemon_pool.hpp"

#include "dispatcher/socket_close.h"

#include "dispatcher/wire.h"

#include <nng/protocol/pair1/pair.h>

#include <stdexcept>

namespace mirai {
namespace test {

fake_daemon_pool::fake_daemon_pool(const std::string& url,
    std::size_t count, uint64_t first_pid)
{
    try {
        for (std::size_t i = 0; i < count; i++) {
            members_.push_back(std::make_unique<member>());
            open_member(*members_.back(), url, first_pid + i);
        }
    } catch (...) {
        close_all();
        throw;
    }
}

fake_daemon_pool::~fake_daemon_pool()
{
    close_all();
}

uint64_t fake_daemon_pool::answered(std::size_t i) const
{
    return members_.at(i)->answered.load();
}

void fake_daemon_pool::open_member(member& m, const std::string& url,
    uint64_t pid)
{
    m.pool = this;
    int rv = nng_pair1_open(&m.sock);
    if (rv == 0) {
        rv = nng_aio_alloc(&m.recv_aio, recv_cb, &m);
    }
    if (rv == 0) {
        rv = nng_aio_alloc(&m.send_aio, send_cb, &m);
    }
    if (rv != 0) {
        throw std::runtime_error(
            std::string("open pool daemon socket: ") + nng_strerror(rv));
    }
    // A dropped connection stays dropped for the length of a test.
    nng_socket_set_ms(m.sock, NNG_OPT_RECONNMINT, 60000);
    nng_socket_set_ms(m.sock, NNG_OPT_RECONNMAXT, 60000);
    if ((rv = nng_dial(m.sock, url.c_str(), nullptr, 0)) != 0) {
        throw std::runtime_error("dial '" + url + "': " + nng_strerror(rv));
    }

    nng_msg* hello = nullptr;
    if ((rv = nng_msg_alloc(&hello, DSP_HEADER_SIZE + 8)) != 0) {
        throw std::runtime_error(
            std::string("allocate hello: ") + nng_strerror(rv));
    }
    auto* body = static_cast<unsigned char*>(nng_msg_body(hello));
    dsp_wire_encode(body, DSP_FRAME_HELLO, 0, 0, 8);
    dsp__put_u64(body + DSP_HEADER_SIZE, pid);
    if ((rv = nng_sendmsg(m.sock, hello, 0)) != 0) {
        nng_msg_free(hello);
        throw std::runtime_error(
            std::string("send hello: ") + nng_strerror(rv));
    }
    nng_recv_aio(m.sock, m.recv_aio);
}

// Closing a socket ends its pending receive or send with NNG_ECLOSED,
// whose callbacks do not re-arm, so the aios can be stopped and freed.
void fake_daemon_pool::close_all()
{
    // Bounded closes (see dispatcher/socket_close.h); a member whose close
    // got stuck in NNG is leaked with its aios, which NNG may still use.
    std::vector<bool> is_stuck(members_.size(), false);
    for (size_t i = 0; i < members_.size(); i++) {
        if (members_[i]->pool != nullptr) {
            is_stuck[i] = !dsp_socket_close_within(members_[i]->sock, 3000);
        }
    }
    for (size_t i = 0; i < members_.size(); i++) {
        auto& m = members_[i];
        if (is_stuck[i]) {
            (void)m.release(); // NNG may still call back into it
            continue;
        }
        if (m->recv_aio != nullptr) {
            nng_aio_stop(m->recv_aio);
            nng_aio_free(m->recv_aio);
        }
        if (m->send_aio != nullptr) {
            nng_aio_stop(m->send_aio);
            nng_aio_free(m->send_aio);
        }
    }
    members_.clear();
}

void fake_daemon_pool::recv_cb(void* arg)
{
    auto* m = static_cast<member*>(arg);
    if (nng_aio_result(m->recv_aio) != 0) {
        return;
    }
    nng_msg* msg = nng_aio_get_msg(m->recv_aio);
    nng_aio_set_msg(m->recv_aio, nullptr);

    auto* body = static_cast<unsigned char*>(nng_msg_body(msg));
    dsp_frame_header hdr;
    bool is_valid = dsp_wire_decode(body, nng_msg_len(msg), &hdr) ==
        DSP_WIRE_OK;
    if (is_valid && hdr.type == DSP_FRAME_EXIT) {
        // Hang up as a daemon that exits would; the socket stays open
        // until the pool closes it.
        nng_pipe_close(nng_msg_get_pipe(msg));
    }
    if (!is_valid ||
        (hdr.type != DSP_FRAME_TASK && hdr.type != DSP_FRAME_SETUP)) {
        nng_msg_free(msg);
        nng_recv_aio(m->sock, m->recv_aio);
        return;
    }

    // Echo: the same payload, under a result (or setup) header.
    auto type = static_cast<dsp_frame_type>(hdr.type == DSP_FRAME_TASK
            ? DSP_FRAME_RESULT
            : DSP_FRAME_SETUP);
    dsp_wire_encode(body, type, hdr.task_id, DSP_RESULT_VALUE,
        hdr.payload_len);
    if (type == DSP_FRAME_RESULT) {
        m->answered++;
    }
    nng_aio_set_msg(m->send_aio, msg);
    nng_send_aio(m->sock, m->send_aio);
}

void fake_daemon_pool::send_cb(void* arg)
{
    auto* m = static_cast<member*>(arg);
    int rv = nng_aio_result(m->send_aio);
    if (rv != 0) {
        nng_msg_free(nng_aio_get_msg(m->send_aio));
        nng_aio_set_msg(m->send_aio, nullptr);
        if (rv == NNG_ECLOSED) {
            return;
        }
    }
    nng_recv_aio(m->sock, m->recv_aio);
}

} // namespace test
} // namespace mirai
