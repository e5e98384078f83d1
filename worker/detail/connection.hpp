// The daemon's NNG connection to the dispatcher: a pair1 socket that
// dials the dispatcher's URL. Received frames are decoded on NNG threads
// and handed to the inbox; replies are sent from the R thread. With
// autoexit 'false' the dialer redials after the connection closes, and
// each new connection starts with a hello of its own.
#pragma once

#include "worker/detail/inbox.hpp"
#include "worker/options.hpp"

#include <nng/nng.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace mirai {
namespace worker {
namespace detail {

class connection {
public:
    // Open the socket. mode decides what a closed connection does to the
    // inbox; max_batch is the most tasks the hello offers to take in one
    // batch frame. Throws std::runtime_error when NNG fails.
    connection(inbox& box, autoexit_mode mode, std::uint32_t max_batch);
    // Close the socket; waits for NNG callbacks to finish.
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Dial url, retrying refused or failed attempts until timeout_ms has
    // passed. Throws std::runtime_error naming the URL and, on time-out,
    // the last NNG error. Unless the mode is never, the connection is
    // not re-established: once its pipe closes, the inbox gets a stop
    // (immediate) or finish (finish) request.
    void dial(const std::string& url, int timeout_ms);

    // Start receiving frames. Call once, after dial.
    void start_receiving();

    // Send a frame; takes ownership of msg. Returns false (and logs) when
    // the socket is closed or the send fails. R thread only.
    bool send(nng_msg* msg);

    // Send the hello frame that carries this process's pid.
    bool send_hello();

    // Tell the dispatcher that a cancel or recall frame arrived, so it
    // may count that frame as read. Never blocks: when the frame cannot be
    // queued at once it is dropped (and logged), and the dispatcher learns
    // the same from the next result. Any thread.
    void acknowledge(dsp_frame_type type, std::uint64_t id);

    // Ask the dispatcher to retire this daemon. It then sends no more
    // tasks and replies with an exit frame. R thread only.
    bool send_retire();
    // Make every later send give up after timeout_ms instead of waiting
    // for a connection. For the exit path.
    void set_send_timeout(int timeout_ms);

    // The id of the connected pipe, or -1 while disconnected.
    int pipe_id() const { return pipe_id_.load(); }

private:
    static void on_pipe_event(nng_pipe pipe, nng_pipe_ev event, void* arg);
    static void on_receive(void* arg);
    static void on_hello_sent(void* arg);
    void handle_frame(nng_msg* msg);
    void handle_batch(nng_msg* msg, const dsp_frame_header& header,
        int pipe_id);
    void reject_frame(nng_msg* msg, const std::string& problem);
    void give_back_queued(int pipe_id);
    void handle_pipe_closed();
    void send_hello_async();

    inbox& box_;
    autoexit_mode mode_;
    std::uint32_t max_batch_;
    nng_socket socket_ = NNG_SOCKET_INITIALIZER;
    nng_dialer dialer_ = NNG_DIALER_INITIALIZER;
    nng_aio* recv_aio_ = nullptr;
    nng_aio* hello_aio_ = nullptr; // hellos of redialed connections
    std::atomic<int> pipe_id_{-1}; // the pipe accepted, -1 when none
    std::atomic<int> connections_{0}; // pipes accepted so far
    std::string url_;
};

} // namespace detail
} // namespace worker
} // namespace mirai
