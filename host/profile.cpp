// Compute profiles: the dispatcher and daemons behind daemons(n), or the
// host's own R in sync mode.
#include "host/detail/profile.hpp"

#include "host/detail/value_cache.hpp"
#include "host/error.hpp"
#include "host/session.hpp"
#include "sync/evaluator.hpp"
#include "sync/serialize.hpp"

#include <chrono>
#include <new>

namespace mirai {
namespace host {
namespace detail {

namespace {

// Runs on an NNG thread: hands the bytes to the task's state, touching no
// R object, and drops the dispatcher's reference to the state.
extern "C" void on_task_result(void* arg, const dsp_result* result)
{
    auto* holder = static_cast<std::shared_ptr<task_state>*>(arg);
    try {
        (*holder)->resolve(result->status, result->flags, result->msg,
                           result->payload, result->payload_len);
    } catch (...) {
        // A failed lock leaves the task unresolved; nothing here may
        // throw into NNG, and there is nothing better to do.
    }
    delete holder;
}

std::string dsp_text(int rc)
{
    return dsp_strerror(rc);
}

// The payload capacity of a task message's first serialization attempt.
// Most tasks fit, and then R serializes them once instead of twice.
constexpr std::size_t first_payload_capacity = 4000;

nng_msg* alloc_task_msg(std::size_t size, void** payload,
                        const char* operation)
{
    nng_msg* msg = nullptr;
    int rc = dsp_task_msg_alloc(&msg, size, payload);
    if (rc != 0) {
        throw error(std::string(operation) + ": allocate " +
                    std::to_string(size) + " bytes: " + dsp_text(rc));
    }
    return msg;
}

// Serialize an R object into a new task message: into a small message
// first, and when the object does not fit, into one of its exact size.
nng_msg* make_task_msg(SEXP object, const char* operation)
{
    void* payload = nullptr;
    nng_msg* msg =
        alloc_task_msg(first_payload_capacity, &payload, operation);
    std::size_t size = 0;
    try {
        size = sync::serialize_up_to(object, payload, first_payload_capacity,
                                     DSP_RECEIVED_PAYLOAD_OFFSET);
    } catch (const std::exception& e) {
        nng_msg_free(msg);
        throw error(std::string(operation) + ": " + e.what());
    }
    if (size <= first_payload_capacity) {
        nng_msg_chop(msg, first_payload_capacity - size);
        return msg;
    }
    nng_msg_free(msg);

    msg = alloc_task_msg(size, &payload, operation);
    try {
        sync::serialize_to(object, payload, size,
                           DSP_RECEIVED_PAYLOAD_OFFSET);
    } catch (const std::exception& e) {
        nng_msg_free(msg);
        throw error(std::string(operation) + ": " + e.what());
    }
    return msg;
}

} // namespace

profile::profile(std::string name, std::shared_ptr<resolution_signal> signal)
    : name_(std::move(name)), signal_(std::move(signal))
{
}

profile::~profile()
{
    reset();
}

bool profile::is_set() const
{
    std::lock_guard<std::mutex> lock(mutex_);
    return sync_ || dispatcher_ != nullptr;
}

bool profile::is_sync() const
{
    std::lock_guard<std::mutex> lock(mutex_);
    return sync_;
}

void profile::start_sync()
{
    reset();
    std::lock_guard<std::mutex> lock(mutex_);
    sync_ = true;
}

void profile::reset()
{
    dsp_dispatcher* dispatcher = nullptr;
    std::unique_ptr<local_launcher> launcher;
    std::unique_ptr<private_dir> dir;
    std::shared_ptr<dispatcher_link> link;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        sync_ = false;
        url_.clear();
        retries_ = 0;
        std::swap(dispatcher, dispatcher_);
        link.swap(link_);
        launcher.swap(launcher_);
        dir.swap(dir_);
    }

    // After this no stop_mirai reaches the dispatcher, so it may close.
    if (link) {
        std::lock_guard<std::mutex> lock(link->mutex);
        link->dispatcher = nullptr;
    }

    // Closing sends every daemon an exit frame and resolves what is left
    // with error value 19; the daemons then get a grace period to exit.
    if (dispatcher != nullptr) {
        dsp_dispatcher_close(dispatcher);
    }
    if (launcher) {
        launcher->stop_all(2000);
    }
}

void profile::require_dispatcher(const char* operation) const
{
    if (dispatcher_ == nullptr) {
        throw error(std::string(operation) + " on profile '" + name_ +
                    "': no daemons set: call daemons(n) first");
    }
}

handle profile::evaluate_here(SEXP task)
{
    session::evaluation_scope interruptible;
    sync::evaluation result =
        sync::evaluate(VECTOR_ELT(task, 0), VECTOR_ELT(task, 1));
    auto state = std::make_shared<task_state>(signal_);
    auto cache = std::make_shared<value_cache>();
    cache->store(result.object);
    state->resolve(0, static_cast<std::uint32_t>(result.kind), nullptr,
                   nullptr, 0);
    return handle(state, cache);
}

// How often a submitter blocked by the queue budget checks for an R
// interrupt.
constexpr int budget_wait_slice_ms = 100;

// Queue msg within the budget, waiting for room when may_block is true.
// Takes msg whatever the outcome. Returns the dispatcher's status,
// DSP_EAGAIN only when may_block is false.
int profile::queue_task(nng_msg* msg, void* holder,
                        const dsp_task_options& opts, std::uint64_t* id,
                        bool may_block)
{
    int slice = may_block ? budget_wait_slice_ms : 0;
    std::uint64_t interrupts = session::interrupt_generation();
    int rc;
    while ((rc = dsp_dispatcher_submit_wait(dispatcher_, msg, on_task_result,
                                            holder, &opts, id, slice)) ==
           DSP_ETIMEDOUT) {
        // session::interrupt() and SIGINT count a generation (R's flag is
        // cleared outside evaluations); a flag set by other code counts too.
        if (session::interrupt_generation() != interrupts ||
            R_interrupts_pending) {
            R_interrupts_pending = 0;
            nng_msg_free(msg);
            throw error("submit task on profile '" + name_ +
                        "': interrupted while waiting for room in the "
                        "queue budget");
        }
    }
    if (rc != DSP_OK) {
        nng_msg_free(msg);
    }
    return rc;
}

handle profile::submit(SEXP task, long timeout_ms, int retries,
                       bool may_block)
{
    if (is_sync()) {
        return evaluate_here(task);
    }
    require_dispatcher("submit task");
    nng_msg* msg = make_task_msg(task, "serialize task");

    dsp_task_options opts{};
    opts.timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
    opts.retries = static_cast<std::uint32_t>(retries < 0 ? retries_
                                                          : retries);
    auto state = std::make_shared<task_state>(signal_);
    state->link = link_;
    auto* holder = new std::shared_ptr<task_state>(state);
    std::uint64_t id = 0;
    int rc;
    try {
        rc = queue_task(msg, holder, opts, &id, may_block);
    } catch (...) {
        delete holder;
        throw;
    }
    if (rc == DSP_EAGAIN) {
        delete holder;
        return handle();
    }
    if (rc != 0) {
        delete holder;
        throw error("submit task on profile '" + name_ + "': " +
                    (rc == DSP_ECLOSED ? "daemons reset: " : "") +
                    dsp_text(rc));
    }
    state->id = id;
    return handle(state, std::make_shared<value_cache>());
}

void profile::everywhere(SEXP task, int min, int timeout_ms)
{
    if (is_sync()) {
        evaluate_here(task);
        return;
    }
    require_dispatcher("everywhere");
    nng_msg* msg = make_task_msg(task, "serialize setup task");
    std::uint64_t setup_id = 0;
    int rc = dsp_dispatcher_everywhere(dispatcher_, msg, &setup_id);
    if (rc != 0) {
        throw error("everywhere on profile '" + name_ + "': " + dsp_text(rc));
    }
    if (min < 0) {
        dsp_stats stats;
        dsp_dispatcher_stats(dispatcher_, &stats);
        min = static_cast<int>(stats.connections);
    }
    std::uint32_t done = 0;
    rc = dsp_dispatcher_wait_setup(dispatcher_, setup_id,
                                   static_cast<std::uint32_t>(min),
                                   timeout_ms, &done);
    if (rc != 0) {
        throw error("everywhere on profile '" + name_ + "': " +
                    std::to_string(done) + " of " + std::to_string(min) +
                    " daemons ran it within " + std::to_string(timeout_ms) +
                    " ms: " + dsp_text(rc));
    }
}

status_info profile::status()
{
    status_info info;
    std::lock_guard<std::mutex> lock(mutex_);
    info.profile = name_;
    info.is_set = sync_ || dispatcher_ != nullptr;
    info.sync = sync_;
    info.url = url_;
    if (dispatcher_ == nullptr) {
        return info;
    }
    dsp_stats stats;
    dsp_dispatcher_stats(dispatcher_, &stats);
    info.connections = stats.connections;
    info.awaiting = stats.awaiting;
    info.executing = stats.executing;
    info.completed = stats.completed;
    info.cancelled = stats.cancelled;
    info.failed = stats.failed;
    info.awaiting_bytes = stats.awaiting_bytes;
    info.awaiting_bytes_peak = stats.awaiting_bytes_peak;
    info.returned = stats.returned;

    std::vector<dsp_daemon_info> daemons(stats.connections + 8);
    std::size_t count = 0;
    dsp_dispatcher_daemons(dispatcher_, daemons.data(), daemons.size(),
                           &count);
    for (std::size_t i = 0; i < count && i < daemons.size(); i++) {
        const dsp_daemon_info& d = daemons[i];
        info.daemons.push_back({d.id, d.pid, d.task_id, d.completed});
    }
    return info;
}

} // namespace detail
} // namespace host
} // namespace mirai
