#include "tests/worker/daemon_harness.hpp"

#include "sync/conditions.hpp"
#include "sync/evaluator.hpp"
#include "sync/serialize.hpp"
#include "tests/support/r_session.hpp"

#include <catch2/catch.hpp>
#include <nng/protocol/pair1/pair.h>

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace mirai {
namespace test {

namespace {

int remove_entry(const char* path, const struct stat*, int, struct FTW*)
{
    std::remove(path);
    return 0;
}

// The test's environment with TMPDIR replaced, so that each daemon's R
// makes its session directory where the test can check it is removed.
std::vector<std::string> daemon_environment(const std::string& tmpdir)
{
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; e++) {
        if (std::string(*e).rfind("TMPDIR=", 0) != 0) {
            env.push_back(*e);
        }
    }
    env.push_back("TMPDIR=" + tmpdir);
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings)
{
    std::vector<char*> out;
    for (std::string& s : strings) {
        out.push_back(&s[0]);
    }
    out.push_back(nullptr);
    return out;
}

// The test process's R, with sync's S3 methods installed so that
// conditionMessage() and friends work on received errors.
void start_r()
{
    static bool is_started = false;
    if (!is_started) {
        r_session();
        sync::install_r_support();
        is_started = true;
    }
}

void check_nng(int rv, const char* operation)
{
    if (rv != 0) {
        FAIL(operation << ": " << nng_strerror(rv));
    }
}

} // namespace

long long now_ms()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(
        steady_clock::now().time_since_epoch()).count();
}

long long elapsed_ms(long long start_ms)
{
    return now_ms() - start_ms;
}

daemon_harness::daemon_harness()
{
    char pattern[] = "/tmp/mirai-worker-test-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    dir_ = pattern;
    REQUIRE(mkdir(r_tmpdir().c_str(), 0700) == 0);
    url_ = "ipc://" + dir_ + "/w.sock";

    listen_again();
}

void daemon_harness::listen_again()
{
    REQUIRE_FALSE(is_open_);
    check_nng(nng_pair1_open_poly(&socket_), "open pair1 poly socket");
    is_open_ = true;
    check_nng(nng_listen(socket_, url_.c_str(), nullptr, 0), "listen");
}

daemon_harness::~daemon_harness()
{
    close_socket();
    for (pid_t pid : running_) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
    }
    nftw(dir_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void daemon_harness::close_socket()
{
    if (is_open_) {
        nng_close(socket_);
        is_open_ = false;
    }
}

std::string daemon_harness::log_path(int index, const char* stream) const
{
    return dir_ + "/daemon-" + std::to_string(index) + "." + stream;
}

pid_t daemon_harness::spawn(const std::vector<std::string>& args)
{
    int index = spawned_++;
    std::vector<std::string> argv_strings = {MIRAI_DAEMON_PATH};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<std::string> env_strings = daemon_environment(r_tmpdir());
    std::vector<char*> argv = c_strings(argv_strings);
    std::vector<char*> env = c_strings(env_strings);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1,
        log_path(index, "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2,
        log_path(index, "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);

    // The daemon starts with no blocked signals, whatever this thread has.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

    pid_t pid = -1;
    int rv = posix_spawn(&pid, argv[0], &actions, &attr, argv.data(),
        env.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    REQUIRE(rv == 0);

    running_.push_back(pid);
    log_index_[pid] = index;
    return pid;
}

pid_t daemon_harness::spawn_connected(int timeout_ms,
    const std::vector<std::string>& extra)
{
    std::vector<std::string> args = {"--url", url_};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_t pid = spawn(args);
    expect_hello(pid, timeout_ms);
    return pid;
}

void daemon_harness::expect_hello(pid_t pid, int timeout_ms)
{
    received_frame hello = receive(timeout_ms);
    REQUIRE(hello.header.type == DSP_FRAME_HELLO);
    REQUIRE(hello.payload.size() == DSP_HELLO_SIZE);
    REQUIRE(dsp__get_u64(hello.payload.data()) == (std::uint64_t) pid);
    hello_max_batch_ = dsp__get_u32(hello.payload.data() + 8);
    REQUIRE(dsp__get_u32(hello.payload.data() + 12) == 0);
    daemon_pipe_ = hello.pipe;
}

received_frame daemon_harness::receive(int timeout_ms)
{
    while (true) {
        if (!unpacked_.empty()) {
            received_frame frame = unpacked_.front();
            unpacked_.pop_front();
            return frame;
        }
        received_frame frame = receive_any(timeout_ms);
        if (frame.header.type == DSP_FRAME_BATCH) {
            unpack_batch(frame);
        } else if (frame.header.type == DSP_FRAME_CANCEL ||
            frame.header.type == DSP_FRAME_RECALL) {
            cancel_acks_.push_back(frame.header.task_id);
        } else {
            return frame;
        }
    }
}

void daemon_harness::unpack_batch(const received_frame& batch)
{
    batches_.push_back(batch.header.flags);
    std::size_t offset = 0;
    while (offset < batch.payload.size()) {
        received_frame frame;
        const unsigned char* sub;
        std::size_t size;
        REQUIRE(dsp_wire_next_frame(batch.payload.data(),
                    batch.payload.size(), &offset, &frame.header, &sub,
                    &size) == DSP_WIRE_OK);
        frame.payload.assign(sub + DSP_HEADER_SIZE, sub + size);
        frame.pipe = batch.pipe;
        unpacked_.push_back(frame);
    }
}

received_frame daemon_harness::receive_any(int timeout_ms)
{
    nng_socket_set_ms(socket_, NNG_OPT_RECVTIMEO, timeout_ms);
    nng_msg* msg = nullptr;
    int rv = nng_recvmsg(socket_, &msg, 0);
    if (rv != 0) {
        FAIL("receive a frame within " << timeout_ms
             << " ms: " << nng_strerror(rv));
    }

    received_frame frame;
    dsp_wire_status status =
        dsp_wire_decode(nng_msg_body(msg), nng_msg_len(msg), &frame.header);
    const unsigned char* body =
        static_cast<const unsigned char*>(nng_msg_body(msg));
    frame.payload.assign(body + DSP_HEADER_SIZE, body + nng_msg_len(msg));
    frame.pipe = nng_msg_get_pipe(msg);
    nng_msg_free(msg);
    REQUIRE(status == DSP_WIRE_OK);
    return frame;
}

void daemon_harness::send(dsp_frame_type type, std::uint64_t id,
    const std::vector<unsigned char>& payload, std::uint32_t flags)
{
    std::vector<unsigned char> bytes(DSP_HEADER_SIZE + payload.size());
    dsp_wire_encode(bytes.data(), type, id, flags, payload.size());
    std::copy(payload.begin(), payload.end(), bytes.begin() + DSP_HEADER_SIZE);
    send_raw(bytes);
}

void daemon_harness::send_raw(const std::vector<unsigned char>& bytes)
{
    nng_msg* msg = nullptr;
    check_nng(nng_msg_alloc(&msg, 0), "allocate message");
    check_nng(nng_msg_append(msg, bytes.data(), bytes.size()),
        "append to message");
    nng_msg_set_pipe(msg, daemon_pipe_);
    int rv = nng_sendmsg(socket_, msg, 0);
    if (rv != 0) {
        nng_msg_free(msg);
        check_nng(rv, "send frame");
    }
}

process_end daemon_harness::wait_end(pid_t pid, int timeout_ms)
{
    process_end end;
    long long start = now_ms();
    int status = 0;
    pid_t done;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0) {
        if (elapsed_ms(start) > timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            end.is_timed_out = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    running_.erase(std::remove(running_.begin(), running_.end(), pid),
        running_.end());

    if (WIFEXITED(status)) {
        end.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        end.signal = WTERMSIG(status);
    }
    return end;
}

std::string daemon_harness::read_log(pid_t pid, const char* stream) const
{
    auto it = log_index_.find(pid);
    if (it == log_index_.end()) {
        return "";
    }
    std::ifstream in(log_path(it->second, stream));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string daemon_harness::output(pid_t pid) const
{
    return read_log(pid, "out");
}

std::string daemon_harness::errors(pid_t pid) const
{
    return read_log(pid, "err");
}

std::vector<unsigned char> task_payload(const std::string& code)
{
    start_r();
    Rcpp::Function parse("parse");
    Rcpp::RObject expr = parse(Rcpp::Named("text") = code);
    Rcpp::RObject task = sync::make_task(expr, Rcpp::List());
    std::vector<unsigned char> bytes(sync::serialized_size(task));
    sync::serialize_to(task, bytes.data(), bytes.size());
    return bytes;
}

Rcpp::RObject unserialize_payload(const received_frame& frame)
{
    start_r();
    return sync::unserialize(frame.payload.data(), frame.payload.size());
}

bool has_no_children()
{
    errno = 0;
    return waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

} // namespace test
} // namespace mirai
