// Helpers shared by the dispatcher tests: a private address per test, a
// dispatcher that is closed at the end of the test, a sink that records
// every completion, and a log sink that records every event.
#pragma once

#include "dispatcher/dispatcher.h"
#include "dispatcher/log.h"
#include "tests/support/fake_daemon.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace mirai {
namespace test {

using namespace std::chrono_literals;

// A fresh ipc:// address inside a private temporary directory, removed
// at the end of the test. NNG unlinks the socket file when it closes the
// listener, so only the empty directory is left to remove.
class ipc_address {
public:
    ipc_address()
    {
        char templ[] = "/tmp/dsp-test-XXXXXX";
        const char* dir = mkdtemp(templ);
        REQUIRE(dir != nullptr);
        dir_ = dir;
        url_ = "ipc://" + dir_ + "/d.sock";
    }
    ~ipc_address()
    {
        std::string path = dir_ + "/d.sock";
        unlink(path.c_str());
        rmdir(dir_.c_str());
    }
    const std::string& url() const { return url_; }

private:
    std::string dir_;
    std::string url_;
};

// A unique inproc:// address.
inline std::string inproc_address()
{
    static std::atomic<int> counter{0};
    return "inproc://dsp-test-" + std::to_string(getpid()) + "-" +
        std::to_string(counter++);
}

struct completion {
    uint64_t id = 0;
    int status = -1;
    uint32_t flags = 0;
    std::string payload;
    bool has_msg = false;
};

// Records every completion; the dispatcher calls it from NNG threads.
class result_sink {
public:
    static void callback(void* arg, const dsp_result* result)
    {
        auto* self = static_cast<result_sink*>(arg);
        completion c;
        c.id = result->task_id;
        c.status = result->status;
        c.flags = result->flags;
        c.has_msg = result->msg != nullptr;
        if (result->payload != nullptr) {
            c.payload.assign(static_cast<const char*>(result->payload),
                result->payload_len);
        }
        nng_msg_free(result->msg);
        std::lock_guard<std::mutex> guard(self->lock_);
        self->all_.push_back(c);
        self->changed_.notify_all();
    }

    bool wait_count(size_t n, std::chrono::milliseconds timeout)
    {
        std::unique_lock<std::mutex> guard(lock_);
        return changed_.wait_for(
            guard, timeout, [&] { return all_.size() >= n; });
    }

    std::vector<completion> all() const
    {
        std::lock_guard<std::mutex> guard(lock_);
        return all_;
    }

    size_t size() const
    {
        std::lock_guard<std::mutex> guard(lock_);
        return all_.size();
    }

    // How many times each task id completed.
    std::map<uint64_t, int> counts() const
    {
        std::lock_guard<std::mutex> guard(lock_);
        std::map<uint64_t, int> n;
        for (const completion& c : all_) {
            n[c.id]++;
        }
        return n;
    }

    completion find(uint64_t id) const
    {
        std::lock_guard<std::mutex> guard(lock_);
        for (const completion& c : all_) {
            if (c.id == id) {
                return c;
            }
        }
        return completion{};
    }

private:
    mutable std::mutex lock_;
    std::condition_variable changed_;
    std::vector<completion> all_;
};

// Records log events while it lives, then restores the default sink.
class log_capture {
public:
    log_capture() { dsp_log_set_sink(sink, this, DSP_LOG_DEBUG); }
    ~log_capture() { dsp_log_set_sink(nullptr, nullptr, DSP_LOG_WARN); }

    // The messages logged under msgid, in order.
    std::vector<std::string> messages(const std::string& msgid) const
    {
        std::lock_guard<std::mutex> guard(lock_);
        std::vector<std::string> out;
        for (const auto& event : events_) {
            if (event.first == msgid) {
                out.push_back(event.second);
            }
        }
        return out;
    }

private:
    static void sink(void* arg, int, const char* msgid, const char* message)
    {
        auto* self = static_cast<log_capture*>(arg);
        std::lock_guard<std::mutex> guard(self->lock_);
        self->events_.emplace_back(msgid, message);
    }

    mutable std::mutex lock_;
    std::vector<std::pair<std::string, std::string>> events_;
};

// A dispatcher listening at a fresh ipc address; closed on destruction
// unless the test closed it.
class dispatcher_fixture {
public:
    dispatcher_fixture()
    {
        REQUIRE(dsp_dispatcher_open(&d_) == DSP_OK);
        REQUIRE(dsp_dispatcher_listen(d_, addr_.url().c_str(), nullptr, 0) ==
            DSP_OK);
    }
    ~dispatcher_fixture() { close(); }

    void close()
    {
        if (d_ != nullptr) {
            dsp_dispatcher_close(d_);
            d_ = nullptr;
        }
    }

    dsp_dispatcher* get() const { return d_; }
    const std::string& url() const { return addr_.url(); }

    // Submit a task whose payload is the given text; returns its id.
    uint64_t submit(const std::string& payload)
    {
        uint64_t id = 0;
        REQUIRE(dsp_dispatcher_submit(d_, make_msg(payload),
                    result_sink::callback, &sink, &id) == DSP_OK);
        return id;
    }

    uint64_t everywhere(const std::string& payload)
    {
        uint64_t id = 0;
        REQUIRE(dsp_dispatcher_everywhere(d_, make_msg(payload), &id) ==
            DSP_OK);
        return id;
    }

    static nng_msg* make_msg(const std::string& payload)
    {
        nng_msg* msg = nullptr;
        void* body = nullptr;
        REQUIRE(dsp_task_msg_alloc(&msg, payload.size(), &body) == DSP_OK);
        if (!payload.empty()) {
            std::memcpy(body, payload.data(), payload.size());
        }
        return msg;
    }

    dsp_stats stats() const
    {
        dsp_stats s{};
        dsp_dispatcher_stats(d_, &s);
        return s;
    }

    void wait_connections(uint32_t n)
    {
        REQUIRE(dsp_dispatcher_wait_connections(d_, n, 5000) == DSP_OK);
    }

    result_sink sink;

private:
    ipc_address addr_;
    dsp_dispatcher* d_ = nullptr;
};

} // namespace test
} // namespace mirai
