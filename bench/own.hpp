// The measurements of mirai-cpp itself, made through the public host API
// in this process's embedded R with real mirai-daemon processes.
#pragma once

#include "bench/results.hpp"

#include <cstddef>
#include <functional>
#include <string>

namespace mirai {
namespace bench {

struct own_options {
    int trips = 2000;         // sequential round trips for the latency
    int map_tasks = 10000;    // tasks of the throughput map
    std::size_t payload_bytes = 100 * 1000 * 1000;
    int repeats = 5;          // payload transfers each way; median kept
    // The latency round trips run in this many blocks, and
    // before_latency_block, when set, runs before each: the bench
    // measures the NNG floor there, so that both sample the same load.
    int latency_blocks = 4;
    std::function<void()> before_latency_block;
    // Run only this measurement (startup, latency, payload, throughput);
    // empty runs them all. For profiling one path at a time.
    std::string only;
};

// Run every measurement (or options.only), storing "mirai_cpp.<metric>" values in out.
// Needs a live host session; throws mirai::host::error or
// std::runtime_error when a task or a check fails.
void measure_own(const own_options& options, results& out);

} // namespace bench
} // namespace mirai
