// A host program driven by tests that signal or kill a whole process.
// It prints its observations, one "key: value" line at a time, and "ready"
// when the test may act. Modes:
//
//   sync-task CODE     run CODE as a sync-mode task; print its outcome
//   evaluate CODE      run CODE through session::evaluate()
//   wait               wait on a daemon's task that takes 2 s
//   orphan             start 2 daemons busy with long tasks, one task
//                      having started a background child, then sleep
//   reset              daemons(1) then daemons(0), then exit
//   ended              create and destroy a session, then sleep
#include "host/mirai.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

namespace mh = mirai::host;

namespace {

void say(const std::string& line)
{
    std::cout << line << std::endl;
}

// R code runs after "ready", so the test's signal lands inside it.
int run_sync_task(const std::string& code)
{
    mh::daemons_options sync;
    sync.sync = true;
    mh::daemons(0, sync);
    say("ready");
    mh::handle h = mh::mirai(code);
    bool is_interrupt = Rf_inherits(h.value(), "miraiInterrupt");
    say(std::string("result: ") + (is_interrupt ? "interrupt" : "value"));
    say("next: " + std::to_string(mh::mirai("1 + 1").get<int>()));
    return 0;
}

int run_evaluate(mh::session& s, const std::string& code)
{
    say("ready");
    try {
        s.evaluate(code);
        say("result: value");
    } catch (const mh::interrupted& e) {
        say(std::string("result: ") + e.what());
    }
    say("next: " + std::to_string(Rcpp::as<int>(s.evaluate("2L + 2L"))));
    return 0;
}

int run_wait()
{
    mh::daemons(1);
    mh::handle h = mh::mirai("Sys.sleep(2); 7L");
    say("ready");
    try {
        h.wait();
        say("wait: resolved");
    } catch (const mh::interrupted& e) {
        say(std::string("wait: ") + e.what());
    }
    say("value: " + std::to_string(h.get<int>()));
    return 0;
}

int run_orphan()
{
    mh::daemons(2);
    std::string child = mh::mirai(
        "system('sleep 100 > /dev/null 2>&1 & echo $!', intern = TRUE)")
                            .get<std::string>();
    mh::handle sleeping = mh::mirai("Sys.sleep(60)");
    mh::handle busy = mh::mirai("repeat {}");
    while (mh::status().executing < 2) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (const mh::daemon_status& d : mh::status().daemons) {
        say("daemon: " + std::to_string(d.pid));
    }
    say("child: " + child);
    say("url: " + mh::status().url);
    say("ready");
    std::this_thread::sleep_for(std::chrono::seconds(60));
    return 1;
}

int run_reset()
{
    mh::daemons(1);
    say("url: " + mh::status().url);
    mh::daemons(0);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    std::string mode = argc > 1 ? argv[1] : "";
    std::string code = argc > 2 ? argv[2] : "";
    try {
        if (mode == "ended") {
            { mh::session ended; }
            say("ready");
            std::this_thread::sleep_for(std::chrono::seconds(30));
            return 1;
        }
        mh::session s;
        if (mode == "sync-task") {
            return run_sync_task(code);
        }
        if (mode == "evaluate") {
            return run_evaluate(s, code);
        }
        if (mode == "wait") {
            return run_wait();
        }
        if (mode == "orphan") {
            return run_orphan();
        }
        if (mode == "reset") {
            return run_reset();
        }
        std::fprintf(stderr, "lifecycle_program: unknown mode '%s'\n",
                     mode.c_str());
        return 64;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lifecycle_program: %s\n", e.what());
        return 1;
    }
}
