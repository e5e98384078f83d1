// The command line of mirai-daemon. Parsing is kept apart from the daemon
// so that --help, --version and option errors never start R or NNG.
#pragma once

#include "dispatcher/log.h"

#include <stdexcept>
#include <string>

namespace mirai {
namespace worker {

// The settings one daemon process runs with.
struct options {
    std::string url;                // the dispatcher's listening URL
    int connect_timeout_ms = 10000; // how long to keep dialing
    int log_level = DSP_LOG_WARN;   // the most verbose level logged
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
