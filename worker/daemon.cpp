// The daemon's R thread. It alone calls into R: it starts R, takes frames
// from the inbox, evaluates them through sync/, and serializes each result
// straight into the reply message, so a result is copied once.
#include "worker/daemon.hpp"

#include "dispatcher/log.h"
#include "dispatcher/wire.h"
#include "sync/conditions.hpp"
#include "sync/evaluator.hpp"
#include "sync/serialize.hpp"
#include "sync/stack.hpp"
#include "worker/detail/cleanup.hpp"
#include "worker/detail/connection.hpp"
#include "worker/detail/inbox.hpp"
#include "worker/detail/limits.hpp"
#include "worker/detail/process_group.hpp"
#include "worker/detail/r_interrupt.hpp"
#include "worker/detail/reply_batch.hpp"
#include "worker/detail/startup_memory.hpp"

#include <RInside.h>
#include <nng/nng.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

namespace mirai {
namespace worker {

namespace {

using detail::connection;
using detail::inbound_frame;
using detail::inbox;
using detail::r_state_keeper;
using detail::reply_batch;
using detail::take_result;
using detail::task_limits;

// How long a daemon waits idle before it gives back the memory of
// payloads that finished tasks borrowed.
constexpr std::chrono::seconds payload_release_delay(1);

// How long a retiring daemon waits for the dispatcher's exit frame,
// running any task that was already on its way, before exiting anyway.
constexpr std::chrono::seconds retire_timeout(5);

// The payload capacity of a reply's first serialization attempt. Most
// results fit, and then R serializes them once instead of twice.
constexpr std::size_t first_payload_capacity = 4000;

nng_msg* alloc_frame(std::size_t payload_size)
{
    nng_msg* msg;
    int rv = nng_msg_alloc(&msg, DSP_HEADER_SIZE + payload_size);
    if (rv != 0) {
        throw std::runtime_error("allocate " + std::to_string(payload_size) +
            " bytes: " + nng_strerror(rv));
    }
    return msg;
}

// Serialize object into a small frame; nullptr, with size set, when it
// does not fit.
nng_msg* encode_small_frame(dsp_frame_type type, std::uint64_t id,
    sync::result_kind kind, SEXP object, std::size_t& size)
{
    nng_msg* msg = alloc_frame(first_payload_capacity);
    unsigned char* body = static_cast<unsigned char*>(nng_msg_body(msg));
    try {
        size = sync::serialize_up_to(object, body + DSP_HEADER_SIZE,
            first_payload_capacity, DSP_RECEIVED_PAYLOAD_OFFSET);
    } catch (...) {
        nng_msg_free(msg);
        throw;
    }
    if (size > first_payload_capacity) {
        nng_msg_free(msg);
        return nullptr;
    }
    nng_msg_chop(msg, first_payload_capacity - size);
    dsp_wire_encode(body, type, id, static_cast<std::uint32_t>(kind), size);
    return msg;
}

// Build a frame whose payload is object serialized in place. Throws
// std::runtime_error when R cannot serialize it or NNG cannot allocate.
nng_msg* encode_frame(dsp_frame_type type, std::uint64_t id,
    sync::result_kind kind, SEXP object)
{
    std::size_t size = 0;
    nng_msg* small = encode_small_frame(type, id, kind, object, size);
    if (small != nullptr) {
        return small;
    }
    if (size > std::numeric_limits<std::size_t>::max() - DSP_HEADER_SIZE) {
        throw std::runtime_error("result of " + std::to_string(size) +
            " bytes is too large for a frame");
    }

    nng_msg* msg = alloc_frame(size);
    unsigned char* body = static_cast<unsigned char*>(nng_msg_body(msg));
    dsp_wire_encode(body, type, id, static_cast<std::uint32_t>(kind), size);
    try {
        sync::serialize_to(object, body + DSP_HEADER_SIZE, size,
            DSP_RECEIVED_PAYLOAD_OFFSET);
    } catch (...) {
        nng_msg_free(msg);
        throw;
    }
    return msg;
}

// Encode the reply to a task or setup. A result that cannot be serialized
// is replaced by an error naming the cause, so the task still resolves
// and the daemon stays up. Returns nullptr only when even that fails.
nng_msg* encode_reply(const inbound_frame& frame,
    const sync::evaluation& result)
{
    auto type = static_cast<dsp_frame_type>(frame.header.type ==
        DSP_FRAME_SETUP ? DSP_FRAME_SETUP : DSP_FRAME_RESULT);
    std::uint64_t id = frame.header.task_id;
    try {
        return encode_frame(type, id, result.kind, result.object);
    } catch (const std::exception& e) {
        dsp_log(DSP_LOG_WARN, "WORKER-RESULT-UNSERIALIZABLE",
            "serialize result of task %llu: %s", (unsigned long long) id,
            e.what());
        try {
            Rcpp::RObject error =
                sync::make_error(std::string("serialize result: ") + e.what());
            return encode_frame(type, id, sync::result_kind::error, error);
        } catch (const std::exception& again) {
            dsp_log(DSP_LOG_ERROR, "WORKER-RESULT-UNSERIALIZABLE",
                "serialize error result of task %llu: %s",
                (unsigned long long) id, again.what());
            return nullptr;
        }
    }
}

// request owns frame.msg, so that large vectors of the task can use the
// message's memory in place.
sync::evaluation evaluate_frame(const inbound_frame& frame,
    const std::shared_ptr<nng_msg>& request)
{
    if (frame.is_cancelled) {
        return sync::evaluation{sync::result_kind::interrupt,
            sync::make_interrupt()};
    }
    const unsigned char* body =
        static_cast<const unsigned char*>(nng_msg_body(frame.msg));
    sync::evaluation result = sync::evaluate_payload(body + DSP_HEADER_SIZE,
        frame.header.payload_len, request);
    return result;
}

// The routes of replies: results through the batch, every other frame
// straight to the connection after the results held before it.
struct outbox {
    inbox& box;
    connection& conn;
    reply_batch& results;
};

// Send the reply to frame unless no peer can use it. That is the case
// after an exit frame, after a lost connection, and on a new connection
// (autoexit 'false'), whose dispatcher does not know the task.
void send_reply(outbox& out, const inbound_frame& frame,
    const sync::evaluation& result)
{
    if (out.box.is_stop_requested()) {
        return;
    }
    if (frame.pipe_id != out.conn.pipe_id()) {
        dsp_log(DSP_LOG_INFO, "WORKER-RESULT-DROPPED",
            "send result of task %llu: its connection has closed",
            (unsigned long long) frame.header.task_id);
        return;
    }
    nng_msg* reply = encode_reply(frame, result);
    if (reply == nullptr) {
        // The task cannot resolve through this daemon; closing the
        // connection lets the dispatcher resolve it as lost.
        out.box.request_stop(exit_failure, "a result could not be sent");
        return;
    }
    if (frame.header.type == DSP_FRAME_SETUP) {
        out.results.flush();
        out.conn.send(reply);
        return;
    }
    out.results.add(reply, frame.pipe_id, out.box.has_queued());
}

// Give a recalled task back unevaluated: a result frame flagged returned.
void give_back(outbox& out, const inbound_frame& frame)
{
    nng_msg_free(frame.msg);
    out.box.finish();
    nng_msg* reply;
    if (out.box.is_stop_requested() || frame.pipe_id != out.conn.pipe_id() ||
        nng_msg_alloc(&reply, DSP_HEADER_SIZE) != 0) {
        return;
    }
    dsp_wire_encode(static_cast<unsigned char*>(nng_msg_body(reply)),
        DSP_FRAME_RESULT, frame.header.task_id, DSP_RESULT_RETURNED, 0);
    out.results.add(reply, frame.pipe_id, out.box.has_queued());
}

// Evaluate one frame and reply. Task frames leave R as the last snapshot
// found it (with --cleanup); setup frames make a new snapshot. before_reply
// runs between the evaluation and the reply.
template <typename Hook>
void run_frame(outbox& out, const inbound_frame& frame,
    r_state_keeper* keeper, Hook before_reply)
{
    std::shared_ptr<nng_msg> request(frame.msg, nng_msg_free);
    sync::evaluation result = evaluate_frame(frame, request);
    out.box.finish();
    // The task's bytes are no longer needed, unless R still uses some.
    request.reset();

    before_reply();
    send_reply(out, frame, result);
    if (keeper == nullptr) {
        return;
    }
    if (frame.header.type == DSP_FRAME_SETUP) {
        keeper->snapshot();
    } else {
        keeper->restore();
    }
}

// Give the memory of received payloads that R no longer uses back to
// the system. A failure costs memory only, so it is logged.
void release_payloads()
{
    try {
        sync::release_borrowed_payloads();
    } catch (const std::exception& e) {
        dsp_log(DSP_LOG_WARN, "WORKER-PAYLOAD-RELEASE",
            "release borrowed payloads: %s", e.what());
    }
}

// The outbox of the running serve(), for the exit hook below; null
// otherwise.
outbox* exit_outbox = nullptr;

// A task that ends the process (quit(), or C code calling exit()) must be
// the task the dispatcher counts as lost, and the tasks behind it in its
// batch must not be. If results of earlier tasks are still held back,
// the dispatcher would take the first of those for the running task. So
// they go out first, followed by a retire request, and the dispatcher's
// reply shows that it has read them all before the connection closes.
extern "C" void flush_results_at_exit()
{
    outbox* out = exit_outbox;
    if (out == nullptr || !out->box.is_running() ||
        !out->results.has_held()) {
        return;
    }
    // No send may wait for a connection that is gone: the process is
    // ending.
    out->conn.set_send_timeout(500);
    out->results.flush();
    if (out->conn.pipe_id() >= 0 && out->conn.send_retire()) {
        out->box.wait_stop_for(std::chrono::milliseconds(500));
    }
}

// Ask the dispatcher to retire this daemon. Returns false when there is
// no connection to ask, so the daemon may exit at once.
bool retire(outbox& out, int status)
{
    out.results.flush();
    dsp_log(DSP_LOG_INFO, "WORKER-RETIRE",
        "retire daemon: %s reached, exit status %d",
        status == exit_idletime ? "idletime" :
        status == exit_walltime ? "walltime" : "maxtasks", status);
    return out.conn.pipe_id() >= 0 && out.conn.send_retire();
}

// Take frames until a stop is requested or a limit retires the daemon.
// Returns the exit status.
int serve(inbox& box, connection& conn, const options& opts)
{
    reply_batch results(conn);
    outbox out{box, conn, results};
    exit_outbox = &out;
    struct exit_hook_reset {
        ~exit_hook_reset() { exit_outbox = nullptr; }
    } reset_exit_hook;
    task_limits limits(opts);
    std::unique_ptr<r_state_keeper> keeper;
    if (opts.cleanup) {
        keeper = std::make_unique<r_state_keeper>();
        keeper->snapshot();
    }

    int retire_status = exit_normal;
    auto retire_deadline = task_limits::clock::time_point::max();
    inbound_frame frame;
    bool has_run_frame = false;
    bool is_memory_released = false;
    while (true) {
        // R's start-up garbage goes once the first frame's reply is out,
        // so that it does not delay that frame.
        if (has_run_frame && !is_memory_released) {
            results.flush();
            detail::release_startup_memory();
            is_memory_released = true;
        }
        auto deadline = retire_status != exit_normal ? retire_deadline :
            limits.wait_deadline();
        // Payloads that finished tasks borrowed go back to the system once
        // the daemon has been idle for a while. Collecting at once would
        // take R's thread, and a core, just as the next task may arrive.
        bool is_release_due = sync::has_unreleased_payloads();
        auto wait_until = is_release_due ? std::min(deadline,
            task_limits::clock::now() + payload_release_delay) : deadline;
        take_result got = box.take(frame, wait_until);
        if (got == take_result::timed_out && is_release_due &&
            task_limits::clock::now() < deadline) {
            release_payloads();
            continue;
        }
        if (got == take_result::stopped) {
            break;
        }
        if (got == take_result::timed_out && retire_status != exit_normal) {
            dsp_log(DSP_LOG_WARN, "WORKER-RETIRE",
                "retire daemon: no exit frame from the dispatcher within "
                "%lld s, exiting", (long long) retire_timeout.count());
            break;
        }

        // A limit reached by a task retires the daemon before the task's
        // result goes out. The dispatcher reads the request first, so it
        // sends no further task: maxtasks counts exactly, and walltime
        // stops work at the first task that ends past it.
        bool is_lost = false;
        auto retire_on = [&](int reached) {
            if (reached == exit_normal || retire_status != exit_normal) {
                return;
            }
            retire_status = reached;
            box.set_retiring();
            is_lost = !retire(out, reached);
            retire_deadline = task_limits::clock::now() + retire_timeout;
        };
        if (got == take_result::timed_out) {
            retire_on(limits.status_at_deadline());
        } else if (frame.is_returned) {
            give_back(out, frame);
        } else {
            bool is_task = frame.header.type == DSP_FRAME_TASK;
            has_run_frame = true;
            run_frame(out, frame, keeper.get(), [&] {
                if (is_task) {
                    retire_on(limits.finish_task());
                } else {
                    limits.finish_setup();
                }
            });
        }
        if (is_lost) {
            break;
        }
    }
    int status = box.exit_status();
    return status != exit_normal ? status : retire_status;
}

// The maximum tasks this daemon takes in one frame. A daemon with a task or
// time limit takes one at a time, so that it never keeps tasks it will
// not run when it retires.
std::uint32_t batch_size(const options& opts)
{
    return opts.maxtasks > 0 || opts.walltime_ms > 0 ? 1 : DSP_MAX_BATCH;
}

std::string r_tempdir()
{
    Rcpp::Function tempdir("tempdir");
    return Rcpp::as<std::string>(tempdir());
}

} // namespace

int run_daemon(const options& opts, int argc, char** argv)
{
    dsp_log_set_sink(nullptr, nullptr, opts.log_level);
    try {
        inbox box(pthread_self());
        connection conn(box, opts.autoexit, batch_size(opts));
        try {
            conn.dial(opts.url, opts.connect_timeout_ms);
        } catch (const std::exception& e) {
            dsp_log(DSP_LOG_ERROR, "WORKER-CONNECT-FAILED", "%s", e.what());
            return exit_failure;
        }

        RInside r(argc, argv, true, false, false);
        sync::install_r_support();
        sync::enable_c_stack_check();
        box.set_r_tempdir(r_tempdir());
        detail::enable_interrupt_signal();
        detail::suspend_interrupts_between_tasks();
        std::atexit(flush_results_at_exit);

        if (!conn.send_hello()) {
            detail::end_process_group();
            return exit_failure;
        }
        conn.start_receiving();
        int status = serve(box, conn, opts);
        detail::end_process_group();
        return status;
    } catch (const std::exception& e) {
        dsp_log(DSP_LOG_ERROR, "WORKER-START-FAILED", "%s", e.what());
        detail::end_process_group();
        return exit_failure;
    }
}

} // namespace worker
} // namespace mirai
