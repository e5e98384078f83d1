// Running the bench's helper programs (the NNG floor, the R peers) and
// capturing what they print.
#pragma once

#include <string>
#include <vector>

namespace mirai {
namespace bench {

struct process_output {
    int exit_status; // the exit code, or 128 + signal number
    std::string out; // everything written to standard output
};

// Run argv[0] (searched in PATH when it has no slash) with arguments,
// wait for it, and return its standard output. Its standard error goes
// to ours. Throws std::runtime_error when it cannot be started.
process_output run_capture(const std::vector<std::string>& argv);

} // namespace bench
} // namespace mirai
