// Many lightweight fake daemons in one process, for scale tests. Unlike
// fake_daemon, a member has no thread of its own. Each one is a pair1
// socket driven by NNG aio callbacks, which send a task's payload back at
// once as its result and acknowledge setups. Hundreds of members thus
// cost sockets, not threads.
#pragma once

#include <nng/nng.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mirai {
namespace test {

class fake_daemon_pool {
public:
    // Dial url count times and send a hello from each socket, with pids
    // first_pid, first_pid + 1, ... Throws std::runtime_error when a dial
    // fails (sockets opened so far are closed).
    fake_daemon_pool(const std::string& url, std::size_t count,
        uint64_t first_pid = 1);
    ~fake_daemon_pool();

    fake_daemon_pool(const fake_daemon_pool&) = delete;
    fake_daemon_pool& operator=(const fake_daemon_pool&) = delete;

    std::size_t size() const { return members_.size(); }

    // The number of task results that member i has sent.
    uint64_t answered(std::size_t i) const;

private:
    struct member {
        fake_daemon_pool* pool = nullptr;
        nng_socket sock{};
        nng_aio* recv_aio = nullptr;
        nng_aio* send_aio = nullptr;
        std::atomic<uint64_t> answered{0};
    };

    void open_member(member& m, const std::string& url, uint64_t pid);
    void close_all();
    static void recv_cb(void* arg);
    static void send_cb(void* arg);

    std::vector<std::unique_ptr<member>> members_;
};

} // namespace test
} // namespace mirai
