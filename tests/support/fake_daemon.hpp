// A fake mirai daemon for dispatcher tests: it dials the dispatcher with a
// pair1 socket, says hello, and answers frames from its own thread
// without R. By default a task's payload comes back as its value, after a
// delay when the payload starts with "sleep:<ms>"; a cancel frame ends
// that delay with an interrupt result, as a real daemon would.
#pragma once

#include "dispatcher/wire.h"

#include <nng/nng.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mirai {
namespace test {

// One frame as the fake daemon received it.
struct frame {
    uint16_t type = 0;
    uint64_t id = 0;
    uint32_t flags = 0;
    std::string payload;
};

// How the fake daemon answers one task.
struct task_reply {
    bool is_sent = true; // false: never answer, only a cancel ends it
    uint32_t flags = DSP_RESULT_VALUE;
    std::string payload;
    std::chrono::milliseconds delay{0};
};

class fake_daemon {
public:
    using task_handler = std::function<task_reply(const frame&)>;

    struct options {
        uint64_t pid = 1000;
        bool sends_hello = true;
        bool ignores_cancel = false; // finish the task as if not cancelled
        task_handler on_task;        // empty: echo, honouring "sleep:<ms>"
        // Above 0: offer batches of up to this many tasks in the hello,
        // acknowledge cancel and recall frames, skip cancelled queued
        // tasks and give queued tasks back on a recall, as mirai-daemon
        // does. Batch frames are recorded, then each of their tasks.
        uint32_t max_batch = 0;
    };

    // Dial url and start answering; throws std::runtime_error when the
    // dial fails.
    fake_daemon(const std::string& url, options opts);
    explicit fake_daemon(const std::string& url, uint64_t pid = 1000);
    ~fake_daemon();

    fake_daemon(const fake_daemon&) = delete;
    fake_daemon& operator=(const fake_daemon&) = delete;

    // Drop the connection at once, as if the process died mid-task.
    void kill();

    // Send bytes as one message, or a well-formed frame; both bypass the
    // daemon's own logic, for protocol tests.
    void send_raw(const std::string& bytes);
    void send_frame(uint16_t type, uint64_t id, uint32_t flags,
        const std::string& payload);

    std::vector<frame> received() const;
    size_t count(uint16_t type) const;

    // Wait until count(type) >= n; false on timeout.
    bool wait_count(uint16_t type, size_t n,
        std::chrono::milliseconds timeout);

    // Wait until the dispatcher has closed the connection; false on timeout.
    bool wait_disconnected(std::chrono::milliseconds timeout);

    uint64_t pid() const { return opts_.pid; }

    // The default answer to a task.
    static task_reply echo(const frame& task);

    // A well-formed frame as bytes.
    static std::string encode(uint16_t type, uint64_t id, uint32_t flags,
        const std::string& payload);

private:
    struct pending_task {
        uint64_t id;
        task_reply reply;
        std::chrono::steady_clock::time_point due;
    };

    void run();
    void handle(const frame& f);
    void start_task(const frame& f);
    void finish_task(uint32_t flags, const std::string& payload);
    void drain_backlog();
    void give_back_backlog();
    void record(const frame& f);
    void close_socket();
    static void pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void* arg);

    options opts_;
    nng_socket sock_{};
    std::atomic<bool> is_stopping_{false};
    bool has_exited_ = false; // got an exit frame; the run thread only

    std::mutex close_lock_;
    bool is_closed_ = false;

    mutable std::mutex lock_;
    std::condition_variable changed_;
    std::vector<frame> received_;
    nng_pipe pipe_ = NNG_PIPE_INITIALIZER; // the connection, once made
    int disconnects_ = 0;

    // Touched only by the daemon's thread.
    bool has_pending_ = false;
    pending_task pending_{};
    std::deque<frame> backlog_; // frames that arrived during a task
    std::vector<uint64_t> cancelled_; // queued tasks cancelled (batches)

    std::thread thread_;
};

} // namespace test
} // namespace mirai
