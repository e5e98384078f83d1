// serialize_bench times what mirai-cpp itself does with a large payload,
// without the transport. "serialize" writes a task into a fresh buffer,
// as make_task_msg and a daemon's reply do. "unserialize" reads it into
// fresh R vectors, as happens without an owner for the buffer. "borrow"
// reads it with an owner, as a daemon reads a task and the host a
// result, so that large vectors are used in place. Every round uses new
// memory, as a real transfer does, so the page faults are part of the
// times.
//
//   serialize_bench [--bytes N] [--rounds N]
//
// Output: one line per step with the median, min and max in ms.
#include "sync/serialize.hpp"

#include <RInside.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double ms_between(clock_type::time_point start, clock_type::time_point end)
{
    return std::chrono::duration<double, std::milli>(end - start).count();
}

void print_times(const char* step, std::vector<double> times)
{
    std::sort(times.begin(), times.end());
    std::printf("%-12s median %6.1f ms  min %6.1f  max %6.1f\n", step,
                times[times.size() / 2], times.front(), times.back());
}

// A task like the one make_task_msg serializes: a list of the data.
SEXP make_task(R_xlen_t doubles)
{
    Rcpp::NumericVector x(doubles);
    for (R_xlen_t i = 0; i < doubles; i++) {
        x[i] = static_cast<double>(i) + 0.5;
    }
    return Rcpp::List::create(Rcpp::Named("x") = x);
}

long parse_count(const char* option, const char* text)
{
    char* end = nullptr;
    long value = std::strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || value < 1) {
        throw std::invalid_argument(std::string("invalid ") + option +
                                    " '" + text +
                                    "': expected a positive integer");
    }
    return value;
}

} // namespace

int main(int argc, char** argv)
{
    long bytes = 100 * 1000 * 1000;
    long rounds = 12;
    try {
        for (int i = 1; i + 1 < argc; i += 2) {
            if (std::strcmp(argv[i], "--bytes") == 0) {
                bytes = parse_count("--bytes", argv[i + 1]);
            } else if (std::strcmp(argv[i], "--rounds") == 0) {
                rounds = parse_count("--rounds", argv[i + 1]);
            } else {
                throw std::invalid_argument(std::string("unknown option '") +
                                            argv[i] + "'");
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "serialize_bench: %s\n"
                     "usage: serialize_bench [--bytes N] [--rounds N]\n",
                     e.what());
        return 2;
    }

    RInside r(0, nullptr, true, false, false);
    Rcpp::RObject task(make_task(bytes / 8));
    std::size_t size = mirai::sync::serialized_size(task);
    std::vector<double> serialize_ms, unserialize_ms, borrow_ms;
    for (long round = 0; round < rounds; round++) {
        auto start = clock_type::now();
        std::unique_ptr<void, void (*)(void*)> buffer(std::malloc(size),
                                                      std::free);
        if (!buffer) {
            std::fprintf(stderr, "serialize_bench: allocate %zu bytes: "
                         "out of memory\n", size);
            return 1;
        }
        mirai::sync::serialize_to(task, buffer.get(), size);
        auto serialized = clock_type::now();
        {
            Rcpp::RObject copy =
                mirai::sync::unserialize(buffer.get(), size);
            unserialize_ms.push_back(
                ms_between(serialized, clock_type::now()));
        }
        serialize_ms.push_back(ms_between(start, serialized));
        R_gc(); // frees the copy, so the next round unserializes afresh

        // The way a daemon reads a task and the host a result: with an
        // owner for the buffer, so large vectors are used in place.
        std::shared_ptr<void> owner(buffer.release(), std::free);
        auto before_borrow = clock_type::now();
        {
            Rcpp::RObject borrowed =
                mirai::sync::unserialize(owner.get(), size, owner);
            borrow_ms.push_back(
                ms_between(before_borrow, clock_type::now()));
        }
        owner.reset();
        R_gc();
    }
    std::printf("%zu bytes, %ld rounds\n", size, rounds);
    print_times("serialize", serialize_ms);
    print_times("unserialize", unserialize_ms);
    print_times("borrow", borrow_ms);
    return 0;
}
