// The daemon's one NNG connection to the dispatcher: a pair1 socket that
// dials the dispatcher's URL once. Received frames are decoded on NNG
// threads and handed to the inbox; replies are sent from the R thread.
#pragma once

#include "worker/detail/inbox.hpp"

#include <nng/nng.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace mirai {
namespace worker {
namespace detail {

class connection {
public:
    // Open the socket. Throws std::runtime_error when NNG fails.
    explicit connection(inbox& box);
    // Close the socket; waits for NNG callbacks to finish.
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Dial url, retrying refused or failed attempts until timeout_ms has
    // passed. Throws std::runtime_error naming the URL and, on time-out,
    // the last NNG error. The connection is never re-established: once
    // its pipe closes, the inbox gets a stop request.
    void dial(const std::string& url, int timeout_ms);

    // Start receiving frames. Call once, after dial.
    void start_receiving();

    // Send a frame; takes ownership of msg. Returns false (and logs) when
    // the socket is closed or the send fails. R thread only.
    bool send(nng_msg* msg);

    // Send the hello frame that carries this process's pid.
    bool send_hello();

    // Tell the dispatcher that the cancel frame for task_id arrived, so it
    // may count that frame as read. Never blocks: when the frame cannot be
    // queued at once it is dropped (and logged), and the dispatcher learns
    // the same from the next result. Any thread.
    void acknowledge_cancel(std::uint64_t task_id);

private:
    static void on_pipe_event(nng_pipe pipe, nng_pipe_ev event, void* arg);
    static void on_receive(void* arg);
    void handle_frame(nng_msg* msg);

    inbox& box_;
    nng_socket socket_ = NNG_SOCKET_INITIALIZER;
    nng_dialer dialer_ = NNG_DIALER_INITIALIZER;
    nng_aio* recv_aio_ = nullptr;
    std::atomic<int> pipe_id_{-1}; // the one pipe accepted, set once
    std::string url_;
};

} // namespace detail
} // namespace worker
} // namespace mirai
