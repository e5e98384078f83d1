// A test's side of the daemon protocol: a private temporary directory, a
// pair1 poly socket listening at ipc://<dir>/w.sock, and the mirai-daemon
// processes the test spawns. The destructor closes the socket, kills and
// reaps every daemon still running and removes the directory.
#pragma once

#include "dispatcher/wire.h"
#include "sync/r.hpp"

#include <nng/nng.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace mirai {
namespace test {

// One frame received from a daemon.
struct received_frame {
    dsp_frame_header header;
    std::vector<unsigned char> payload;
    nng_pipe pipe;
};

// How a process ended: exit_code for a normal exit, else signal.
struct process_end {
    bool is_timed_out = false;
    int exit_code = -1;
    int signal = 0;
};

class daemon_harness {
public:
    daemon_harness();
    ~daemon_harness();
    daemon_harness(const daemon_harness&) = delete;
    daemon_harness& operator=(const daemon_harness&) = delete;

    const std::string& dir() const { return dir_; }
    const std::string& url() const { return url_; }

    // The temporary directory given to daemons as TMPDIR, where R makes
    // its session directory.
    std::string r_tmpdir() const { return dir_ + "/tmp"; }

    // Spawn mirai-daemon with args (the URL is not added). Its stdout and
    // stderr go to files read by output() and errors().
    pid_t spawn(const std::vector<std::string>& args);

    // Spawn a daemon dialing url(), with extra options, and wait for its
    // hello. Fails the test when none arrives within timeout_ms.
    pid_t spawn_connected(int timeout_ms = 10000,
        const std::vector<std::string>& extra = {});

    // Receive a hello from pid, within timeout_ms, and address later
    // sends to the pipe it came on.
    void expect_hello(pid_t pid, int timeout_ms);

    // Listen at url() again after close_socket(), as a new host would.
    void listen_again();

    // The largest batch the last hello offered.
    std::uint32_t hello_max_batch() const { return hello_max_batch_; }

    // Receive one frame other than a cancel or recall acknowledgement,
    // which is recorded in cancel_acks(), or fail the test after
    // timeout_ms. The results of a batch frame come one by one, and the
    // batch's size is recorded in batches().
    received_frame receive(int timeout_ms);

    // Receive one frame of any type, or fail the test after timeout_ms.
    received_frame receive_any(int timeout_ms);

    // The number of results in each batch frame receive() unpacked.
    const std::vector<std::uint32_t>& batches() const { return batches_; }

    // Task ids of the cancel acknowledgements that receive() skipped
    // (recall acknowledgements count as id 0).
    const std::vector<std::uint64_t>& cancel_acks() const
    {
        return cancel_acks_;
    }

    // Send a frame to the daemon that said hello last.
    void send(dsp_frame_type type, std::uint64_t id,
        const std::vector<unsigned char>& payload, std::uint32_t flags = 0);

    // Send raw bytes as one message, for malformed frames.
    void send_raw(const std::vector<unsigned char>& bytes);

    // Wait up to timeout_ms for pid to end and reap it. On time-out the
    // process is killed, reaped, and is_timed_out is set.
    process_end wait_end(pid_t pid, int timeout_ms);

    // Close the listening socket, as a host does at daemons(0).
    void close_socket();

    std::string output(pid_t pid) const;
    std::string errors(pid_t pid) const;

private:
    void unpack_batch(const received_frame& batch);

    std::uint32_t hello_max_batch_ = 0;
    std::deque<received_frame> unpacked_;
    std::vector<std::uint32_t> batches_;
    std::string log_path(int index, const char* stream) const;
    std::string read_log(pid_t pid, const char* stream) const;

    std::string dir_;
    std::string url_;
    nng_socket socket_ = NNG_SOCKET_INITIALIZER;
    bool is_open_ = false;
    nng_pipe daemon_pipe_ = NNG_PIPE_INITIALIZER;
    std::vector<pid_t> running_;
    std::vector<std::uint64_t> cancel_acks_;
    std::map<pid_t, int> log_index_; // pid to the index in its log names
    int spawned_ = 0;
};

// The serialized task list(expr = parse(text = code), data = list()),
// built in the test process's R.
std::vector<unsigned char> task_payload(const std::string& code);

// A received payload as an R object.
Rcpp::RObject unserialize_payload(const received_frame& frame);

// True when no child process of the test is left, reaped or not.
bool has_no_children();

// Milliseconds elapsed on the steady clock since start_ms.
long long elapsed_ms(long long start_ms);
long long now_ms();

} // namespace test
} // namespace mirai
