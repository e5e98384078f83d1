// Parsing of the mirai-daemon command line. Errors name the option and
// the form it expects, and main() turns them into exit status 64.
#include "worker/options.hpp"

#include "dispatcher/wire.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace mirai {
namespace worker {

namespace {

// One command-line word split into its option name and, for the
// "--opt=value" form, its attached value.
struct word {
    std::string name;
    std::string value;
    bool has_value = false;
};

word split_word(const std::string& arg)
{
    word w;
    std::size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
        w.name = arg;
        return w;
    }
    w.name = arg.substr(0, eq);
    w.value = arg.substr(eq + 1);
    w.has_value = true;
    return w;
}

void set_url(options& opts, const std::string& source, const std::string& url)
{
    if (url.empty()) {
        throw option_error(source + ": expected a URL such as "
            "'ipc:///path/to/socket' or 'tcp://127.0.0.1:5555', got ''");
    }
    if (!opts.url.empty()) {
        throw option_error(source + ": the URL is already set to '" +
            opts.url + "', expected one URL");
    }
    opts.url = url;
}

// Parse a whole number from 0 to INT_MAX. The error names it as what.
int parse_count(const std::string& option, const std::string& text,
    const char* what)
{
    char* end = nullptr;
    errno = 0;
    long value = std::strtol(text.c_str(), &end, 10);
    bool is_valid = !text.empty() && *end == '\0' && errno == 0 &&
        value >= 0 && value <= INT_MAX && text[0] != '-' && text[0] != '+';
    if (!is_valid) {
        throw option_error("option '" + option + "': expected " + what +
            " from 0 to " + std::to_string(INT_MAX) + ", got '" + text +
            "'");
    }
    return static_cast<int>(value);
}

int parse_milliseconds(const std::string& option, const std::string& text)
{
    return parse_count(option, text, "a whole number of milliseconds");
}

autoexit_mode parse_autoexit(const std::string& option,
    const std::string& text)
{
    if (text == "true") {
        return autoexit_mode::immediate;
    }
    if (text == "finish") {
        return autoexit_mode::finish;
    }
    if (text == "false") {
        return autoexit_mode::never;
    }
    throw option_error("option '" + option +
        "': expected 'true', 'finish' or 'false', got '" + text + "'");
}

bool parse_bool(const std::string& option, const std::string& text)
{
    if (text == "true" || text == "false") {
        return text == "true";
    }
    throw option_error("option '" + option +
        "': expected 'true' or 'false', got '" + text + "'");
}

// The placeholder for an option's value in messages and help.
std::string value_name(const std::string& name)
{
    if (name == "--url") {
        return "URL";
    }
    if (name == "--autoexit") {
        return "MODE";
    }
    if (name == "--cleanup") {
        return "BOOL";
    }
    return name == "--maxtasks" ? "N" : "MS";
}

bool takes_value(const std::string& name)
{
    static const char* const names[] = {"--url", "--connect-timeout",
        "--autoexit", "--cleanup", "--idletime", "--walltime", "--maxtasks"};
    for (const char* n : names) {
        if (name == n) {
            return true;
        }
    }
    return false;
}

// Apply an option that takes a value. Returns false for any other name.
bool set_valued_option(options& opts, const word& w)
{
    if (w.name == "--url") {
        set_url(opts, "option '--url'", w.value);
    } else if (w.name == "--connect-timeout") {
        opts.connect_timeout_ms = parse_milliseconds(w.name, w.value);
    } else if (w.name == "--autoexit") {
        opts.autoexit = parse_autoexit(w.name, w.value);
    } else if (w.name == "--cleanup") {
        opts.cleanup = parse_bool(w.name, w.value);
    } else if (w.name == "--idletime") {
        opts.idletime_ms = parse_milliseconds(w.name, w.value);
    } else if (w.name == "--walltime") {
        opts.walltime_ms = parse_milliseconds(w.name, w.value);
    } else if (w.name == "--maxtasks") {
        opts.maxtasks = parse_count(w.name, w.value, "a whole number");
    } else {
        return false;
    }
    return true;
}

// Set the log level, rejecting a second, different level: "--quiet
// --verbose" is more likely a mistake than a request.
void set_log_level(options& opts, bool& is_set, const std::string& option,
    int level)
{
    if (is_set && opts.log_level != level) {
        throw option_error("option '" + option +
            "': conflicts with an earlier '--quiet' or '--verbose'");
    }
    is_set = true;
    opts.log_level = level;
}

} // namespace

options parse_options(int argc, const char* const* argv)
{
    options opts;
    bool is_log_level_set = false;

    for (int i = 1; i < argc; i++) {
        word w = split_word(argv[i]);
        bool has_argument = takes_value(w.name);

        if (has_argument && !w.has_value) {
            if (i + 1 >= argc) {
                throw option_error("option '" + w.name + "': missing value, "
                    "expected '" + w.name + " " + value_name(w.name) + "'");
            }
            w.value = argv[++i];
        } else if (!has_argument && w.has_value) {
            throw option_error("option '" + w.name + "': takes no value, "
                "got '" + w.value + "'");
        }

        if (has_argument) {
            set_valued_option(opts, w);
        } else if (w.name == "--quiet" || w.name == "-q") {
            set_log_level(opts, is_log_level_set, w.name, DSP_LOG_ERROR);
        } else if (w.name == "--verbose" || w.name == "-v") {
            set_log_level(opts, is_log_level_set, w.name, DSP_LOG_DEBUG);
        } else if (w.name == "--help" || w.name == "-h") {
            opts.show_help = true;
        } else if (w.name == "--version") {
            opts.show_version = true;
        } else if (w.name.size() > 1 && w.name[0] == '-') {
            throw option_error("unknown option '" + w.name + "'");
        } else {
            set_url(opts, "argument '" + w.name + "'", w.name);
        }
    }

    if (opts.url.empty() && !opts.show_help && !opts.show_version) {
        throw option_error("missing the dispatcher URL, expected "
            "'--url URL' or the URL as the only argument");
    }
    return opts;
}

std::string usage_text()
{
    return "Usage: mirai-daemon [OPTION]... --url URL\n"
           "       mirai-daemon [OPTION]... URL\n"
           "\n"
           "Connect to a mirai dispatcher at URL and evaluate the R tasks "
           "it sends,\n"
           "one at a time, until it sends exit, the connection closes or "
           "a limit is hit.\n"
           "\n"
           "Options:\n"
           "  --url URL               dispatcher URL to dial, e.g. "
           "ipc:///tmp/d/w.sock\n"
           "                          or tcp://127.0.0.1:5555 (required)\n"
           "  --connect-timeout MS    keep retrying the dial for up to MS "
           "milliseconds\n"
           "                          before exiting with status 70 "
           "(default 10000;\n"
           "                          0 tries once)\n"
           "  --autoexit MODE         when the connection closes: 'true' "
           "interrupts the\n"
           "                          running task and exits (after 200 ms "
           "the process\n"
           "                          ends even if R is busy); 'finish' "
           "lets the task\n"
           "                          finish, then exits; 'false' keeps "
           "redialing URL\n"
           "                          and serves the next host, until an "
           "exit frame\n"
           "                          or a signal (default true)\n"
           "  --cleanup BOOL          'true' restores the global "
           "environment, the search\n"
           "                          path and options() after each task; "
           "setup tasks\n"
           "                          (everywhere) keep their changes "
           "(default true)\n"
           "  --idletime MS           exit with status 1 after MS "
           "milliseconds without\n"
           "                          a task (default 0: no limit)\n"
           "  --walltime MS           exit with status 2 once MS "
           "milliseconds have passed\n"
           "                          since start; a running task is never "
           "stopped\n"
           "                          (default 0: no limit)\n"
           "  --maxtasks N            exit with status 3 after N tasks "
           "(default 0: no\n"
           "                          limit)\n"
           "  -q, --quiet             log errors only\n"
           "  -v, --verbose           log everything, down to debug events\n"
           "  -h, --help              print this help and exit\n"
           "      --version           print the version and exit\n"
           "\n"
           "Log lines go to stderr; by default warnings and errors are "
           "logged.\n"
           "Exit status: 0 after an exit frame or a closed connection, 1 "
           "idletime,\n"
           "2 walltime, 3 maxtasks, 64 invalid command line, 70 connection, "
           "start-up\n"
           "or protocol failure.\n";
}

std::string version_text()
{
    return std::string("mirai-daemon ") + MIRAI_VERSION +
        " (wire protocol " + std::to_string(DSP_WIRE_VERSION) + ")\n";
}

} // namespace worker
} // namespace mirai
