// Faults: lost daemons, retries, errors at each stage of a task, misuse.
#include "host/mirai.hpp"

#include "dispatcher/dispatcher.h"
#include "host/detail/task_state.hpp"
#include "sync/serialize.hpp"
#include "tests/host/host_fixture.hpp"

#include <cstring>
#include <thread>

namespace mh = mirai::host;
using mirai::test::daemons_guard;
using mirai::test::host_session;
using mirai::test::seconds_since;
using mirai::test::wait_running;

namespace {

using clock_type = std::chrono::steady_clock;

bool wait_connections(std::uint32_t n, double seconds)
{
    auto start = clock_type::now();
    while (seconds_since(start) < seconds) {
        if (mh::status().connections == n) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

std::string condition_message(SEXP condition)
{
    Rcpp::Function message("conditionMessage");
    return Rcpp::as<std::string>(message(condition));
}

} // namespace

TEST_CASE("lost daemon fails only its task", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);

    mh::handle victim = mh::mirai("Sys.sleep(30)");
    std::vector<mh::handle> behind;
    for (int i = 0; i < 3; i++) {
        behind.push_back(mh::mirai("Sys.getpid()"));
    }
    std::uint64_t pid = wait_running(victim);
    ::kill(static_cast<pid_t>(pid), SIGKILL);

    REQUIRE(victim.wait_for(2000));
    CHECK(victim.error_code() == 19);
    REQUIRE(wait_connections(0, 2));
    // The queued tasks wait for a daemon instead of failing.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (const mh::handle& t : behind) {
        CHECK(t.unresolved());
    }
    mh::status_info info = mh::status();
    CHECK(info.awaiting == 3);
    CHECK(info.executing == 0);
    CHECK(info.failed == 1);
    CHECK(info.completed == 0);

    mh::launch_local(1);
    for (const mh::handle& t : behind) {
        REQUIRE(t.wait_for(10000));
        CHECK(t.get<int>() != static_cast<int>(pid));
        CHECK(t.get<int>() > 0);
    }
    info = mh::status();
    CHECK(info.connections == 1);
    CHECK(info.completed == 3);
    CHECK(info.failed == 1);
}

TEST_CASE("retries re-run a task whose daemon is lost", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options options;
    options.retries = 1;
    mh::daemons(1, options);

    mh::handle retried = mh::mirai("Sys.sleep(1); Sys.getpid()");
    mh::task_options no_retry;
    no_retry.retries = 0;
    std::uint64_t first_pid = wait_running(retried);
    ::kill(static_cast<pid_t>(first_pid), SIGKILL);
    REQUIRE(wait_connections(0, 2));
    CHECK(retried.unresolved());
    CHECK(mh::status().awaiting == 1);
    CHECK(mh::status().failed == 0);

    mh::launch_local(1);
    REQUIRE(retried.wait_for(15000));
    int second_pid = retried.get<int>();
    CHECK(second_pid != static_cast<int>(first_pid));

    // A task that opts out fails at once when its daemon is lost.
    mh::handle once = mh::mirai("Sys.sleep(30)", {}, no_retry);
    CHECK(wait_running(once) == static_cast<std::uint64_t>(second_pid));
    ::kill(static_cast<pid_t>(second_pid), SIGKILL);
    REQUIRE(once.wait_for(2000));
    CHECK(once.error_code() == 19);

    mh::status_info info = mh::status();
    CHECK(info.completed == 1);
    CHECK(info.failed == 1);
    CHECK(info.awaiting == 0);
    mh::daemons_options negative;
    negative.retries = -2;
    CHECK_THROWS_WITH(mh::daemons(1, negative),
                      "set daemons for profile 'default': expected retries "
                      "of 0 or more, got -2");
}

TEST_CASE("errors at each task stage reach the host", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons(1);
    int pid = mh::mirai("Sys.getpid()").get<int>();

    SECTION("decoding the task")
    {
        // A frame whose payload is not an R serialization, sent through
        // the profile's own dispatcher to the real daemon.
        mh::handle probe = mh::mirai("1");
        probe.wait();
        auto link = probe.state()->link;
        REQUIRE(link != nullptr);
        auto state = std::make_shared<mh::detail::task_state>(nullptr);
        auto* holder = new std::shared_ptr<mh::detail::task_state>(state);
        nng_msg* msg = nullptr;
        void* payload = nullptr;
        REQUIRE(dsp_task_msg_alloc(&msg, 8, &payload) == DSP_OK);
        std::memcpy(payload, "garbage!", 8);
        {
            std::lock_guard<std::mutex> lock(link->mutex);
            auto on_result = [](void* arg, const dsp_result* r) {
                auto* h = static_cast<
                    std::shared_ptr<mh::detail::task_state>*>(arg);
                (*h)->resolve(r->status, r->flags, r->msg, r->payload,
                              r->payload_len);
                delete h;
            };
            REQUIRE(dsp_dispatcher_submit(link->dispatcher, msg, on_result,
                                          holder, nullptr) == DSP_OK);
        }
        REQUIRE(state->wait_for_ms(5000));
        CHECK(state->status() == 0);
        CHECK(state->flags() == DSP_RESULT_ERROR);
        Rcpp::RObject error =
            mirai::sync::unserialize(state->payload(), state->payload_len());
        CHECK(Rf_inherits(error, "miraiError"));
        CHECK_THAT(condition_message(error),
                   Catch::StartsWith("decode task: unserialize payload: "));
    }
    SECTION("assigning its data")
    {
        mh::handle task = mh::mirai("1", {{std::string(10001, 'v'), 1}});
        CHECK(task.is_error());
        CHECK(task.error_code() == 0);
        CHECK_THAT(condition_message(task.value()),
                   Catch::Contains("variable names are limited to 10000 "
                                   "bytes"));
        CHECK_THROWS_AS(task.get<int>(), mh::task_error);
    }
    SECTION("evaluating")
    {
        mh::handle task = mh::mirai("stop('evaluation failed: ', 7)");
        CHECK(task.is_error());
        CHECK(condition_message(task.value()) == "evaluation failed: 7");
    }
    SECTION("encoding the result")
    {
        // Serializing an environment looks up '.__NAMESPACE__.' in it,
        // which runs this active binding, so R's serialize raises.
        mh::handle task = mh::mirai(
            "e <- new.env(); makeActiveBinding('.__NAMESPACE__.', "
            "function() stop('this value cannot be serialized'), e); e");
        CHECK(task.is_error());
        CHECK(task.error_code() == 0);
        std::string message = condition_message(task.value());
        CHECK_THAT(message, Catch::StartsWith("serialize result: "));
        CHECK_THAT(message, Catch::Contains("this value cannot be "
                                            "serialized"));
    }

    // The daemon survives every stage and runs the next task.
    CHECK(mh::mirai("Sys.getpid()").get<int>() == pid);
    CHECK(mh::status().connections == 1);
    CHECK(mh::status().failed == 0);
}

TEST_CASE("misuse gets exact errors", "[host][r]")
{
    host_session();
    daemons_guard guard;

    CHECK_THROWS_WITH(mh::session(),
                      "create session: R already started in this process; "
                      "only one session may exist per process");
    CHECK_THROWS_WITH(mh::daemons(-3),
                      "set daemons for profile 'default': expected a count "
                      "of 0 to 1024, got -3");
    CHECK_THROWS_WITH(mh::launch_local(1),
                      "add daemons to profile 'default': no daemons set: "
                      "call daemons(n) first");
    mh::daemons(1);
    CHECK_THROWS_WITH(mh::launch_local(0),
                      "add daemons to profile 'default': expected a "
                      "count of 1 or more, got 0");
    mh::task_options zero;
    zero.timeout_ms = 0;
    CHECK_THROWS_WITH(mh::mirai("1", {}, zero),
                      "create task: expected a positive timeout in ms, "
                      "got 0");
    for (int timeout : {0, -1}) {
        mh::everywhere_options every;
        every.timeout_ms = timeout;
        CHECK_THROWS_WITH(mh::everywhere("1", {}, every),
                          "everywhere: expected a positive timeout in ms, "
                          "got " + std::to_string(timeout));
    }
    CHECK_THROWS_WITH(mh::mirai("x", {{"x", 1}, {"y", 2}, {"x", 3}}),
                      "create task: data item 3 repeats the name 'x' of "
                      "item 1; data names must be unique");
    CHECK_THROWS_WITH(mh::everywhere("x", {{"x", 1}, {"x", 2}}),
                      "everywhere: data item 2 repeats the name 'x' of "
                      "item 1; data names must be unique");

    std::string from_thread;
    std::thread other([&] {
        try {
            mh::mirai("1");
        } catch (const mh::error& e) {
            from_thread = e.what();
        }
    });
    other.join();
    CHECK(from_thread == "create task: called from a thread that is not "
                         "R's (only the thread that created the session "
                         "may use R)");
    CHECK(mh::mirai("5").get<int>() == 5);
}
