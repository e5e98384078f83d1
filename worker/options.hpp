// The command line of mirai-daemon. Parsing is kept apart from the daemon
// so that --help, --version and option errors never start R or NNG.
#pragma once

#include "dispatcher/log.h"

#include <stdexcept>
#include <string>

namespace mirai {
namespace worker {

// The exit statuses of mirai-daemon. 1 to 3 name the limit that ended a
// daemon, so option and start-up failures use codes from sysexits.h.
enum exit_status : int {
    exit_normal = 0,   // exit frame, or the connection closed
    exit_idletime = 1, // no task arrived within --idletime
    exit_walltime = 2, // --walltime passed (checked between tasks)
    exit_maxtasks = 3, // --maxtasks tasks done
    exit_usage = 64,   // invalid command line (EX_USAGE)
    exit_failure = 70  // cannot connect or start R, or a protocol error
};

// The daemon's response to a closed connection to the host.
enum class autoexit_mode {
    immediate, // interrupt the running task and exit (200 ms grace)
    finish,    // let the running task finish, then exit
    never      // stay, redialing the same URL, until an exit frame
};

// The settings one daemon process runs with. A limit of 0 means none.
struct options {
    std::string url;                // the dispatcher's listening URL
    int connect_timeout_ms = 10000; // how long to keep dialing
    int log_level = DSP_LOG_WARN;   // the most verbose level logged
    autoexit_mode autoexit = autoexit_mode::immediate;
    bool cleanup = true; // restore globals, search path, options per task
    int idletime_ms = 0; // exit after this long without a task
    int walltime_ms = 0; // exit once this long has run, between tasks
    int maxtasks = 0;    // exit after this many tasks
    bool show_help = false;
    bool show_version = false;
};

// An invalid command line. The message names the option and the
// expected form, ready to print after the program name.
class option_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Parse argv[1..argc). Accepts "--opt value" and "--opt=value", and the
// URL as the single positional argument. Throws option_error.
options parse_options(int argc, const char* const* argv);

// The text printed by --help, ending in a newline.
std::string usage_text();

// The text printed by --version, ending in a newline.
std::string version_text();

} // namespace worker
} // namespace mirai
