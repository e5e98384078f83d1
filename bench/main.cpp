// mirai_bench measures, in one run and on the same tasks, mirai-cpp, the
// raw NNG transport under it, and its peers: R's parallel package, future,
// and the R package mirai when it is installed. It prints a table, one
// "RATIO <name> <value>" line per comparison (ours divided by theirs, so
// lower is better) and the targets, and writes the same as JSON.
#include "bench/own.hpp"
#include "bench/results.hpp"
#include "bench/subprocess.hpp"

#include "host/mirai.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

struct bench_options {
    std::string out = "build/bench/results.json";
    std::string floor = MIRAI_BENCH_FLOOR;
    std::string peers = MIRAI_BENCH_PEERS;
    std::string rscript = "Rscript";
    bool run_peers = true;
    bool run_floor = true;
    mirai::bench::own_options own;
    int peer_tasks = 2000;  // clusterApplyLB tasks
    int future_trips = 200; // a future round trip takes milliseconds
};

const char usage[] =
    "usage: mirai_bench [--out FILE] [--quick] [--no-peers] [--only NAME]\n"
    "                   [--trips N] [--tasks N] [--repeats N]\n"
    "                   [--floor PROGRAM] [--peers SCRIPT] "
    "[--rscript PROGRAM]\n"
    "  --out FILE     where to write the JSON results "
    "(build/bench/results.json)\n"
    "  --quick        fewer round trips and tasks and a 10 MB payload,\n"
    "                 to check that the bench works; numbers are rough\n"
    "  --no-peers     skip R's parallel, future and mirai\n"
    "  --trips N      latency round trips (2000)\n"
    "  --tasks N      tasks of the throughput map (10000)\n"
    "  --repeats N    payload transfers each way; the median is kept (5)\n"
    "  --only NAME    measure only startup, latency, payload or throughput\n"
    "                 of mirai-cpp (no floor, no peers), for profiling\n";

int parse_count(const std::string& option, const char* text)
{
    char* end = nullptr;
    long value = std::strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || value <= 0 || value > 10000000) {
        std::cerr << "mirai_bench: " << option
                  << ": expected a count from 1 to 10000000, got '" << text
                  << "'\n";
        std::exit(2);
    }
    return static_cast<int>(value);
}

bench_options parse_options(int argc, char** argv)
{
    bench_options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        bool has_value = i + 1 < argc;
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            std::exit(0);
        } else if (a == "--quick") {
            o.own.trips = 200;
            o.own.map_tasks = 1000;
            o.own.payload_bytes = 10 * 1000 * 1000;
            o.own.repeats = 1;
            o.peer_tasks = 200;
            o.future_trips = 20;
        } else if (a == "--no-peers") {
            o.run_peers = false;
        } else if (a == "--only" && has_value) {
            o.own.only = argv[++i];
            if (o.own.only != "startup" && o.own.only != "latency" &&
                o.own.only != "payload" && o.own.only != "throughput") {
                std::cerr << "mirai_bench: --only: expected startup, "
                             "latency, payload or throughput, got '"
                          << o.own.only << "'\n";
                std::exit(2);
            }
            o.run_peers = false;
            o.run_floor = false;
        } else if (a == "--trips" && has_value) {
            o.own.trips = parse_count(a, argv[++i]);
        } else if (a == "--tasks" && has_value) {
            o.own.map_tasks = parse_count(a, argv[++i]);
        } else if (a == "--repeats" && has_value) {
            o.own.repeats = parse_count(a, argv[++i]);
        } else if (a == "--out" && has_value) {
            o.out = argv[++i];
        } else if (a == "--floor" && has_value) {
            o.floor = argv[++i];
        } else if (a == "--peers" && has_value) {
            o.peers = argv[++i];
        } else if (a == "--rscript" && has_value) {
            o.rscript = argv[++i];
        } else {
            std::cerr << "mirai_bench: invalid option '" << a << "'\n"
                      << usage;
            std::exit(2);
        }
    }
    return o;
}

// Run the floor and store its values under prefix.
void run_floor(const bench_options& o, mirai::bench::results& r,
               const std::string& prefix)
{
    auto output = mirai::bench::run_capture(
        {o.floor, "--trips", std::to_string(o.own.trips), "--bytes",
         std::to_string(o.own.payload_bytes), "--repeats",
         std::to_string(o.own.repeats)});
    if (output.exit_status != 0) {
        r.add_note("NNG floor failed with exit status " +
                   std::to_string(output.exit_status));
    }
    r.parse_lines(output.out, prefix);
}

// The floor's round trips, measured in blocks between mirai-cpp's.
struct floor_blocks {
    std::vector<double> medians;
    std::vector<double> p99s;
    double trips = 0;
};

// Run the floor's round trips only, for one latency block.
void run_floor_block(const bench_options& o, floor_blocks& blocks)
{
    int trips = std::max(1, o.own.trips / o.own.latency_blocks);
    auto output = mirai::bench::run_capture(
        {o.floor, "--trips", std::to_string(trips), "--no-payload"});
    mirai::bench::results block;
    block.parse_lines(output.out, "");
    auto median = block.get("round_trip_median");
    auto p99 = block.get("round_trip_p99");
    if (output.exit_status != 0 || !median || !p99) {
        throw std::runtime_error("NNG floor failed with exit status " +
                                 std::to_string(output.exit_status));
    }
    blocks.medians.push_back(*median);
    blocks.p99s.push_back(*p99);
    blocks.trips += trips;
}

double median_of(std::vector<double> values)
{
    std::sort(values.begin(), values.end());
    std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2]
                      : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Store the floor's round trips under "nng.": the median of the block
// medians and of the block p99s.
void store_floor_blocks(const floor_blocks& blocks, mirai::bench::results& r)
{
    if (blocks.medians.empty()) {
        return;
    }
    r.set("nng.round_trip_median", median_of(blocks.medians));
    r.set("nng.round_trip_p99", median_of(blocks.p99s));
    r.set("nng.round_trips", blocks.trips);
}

// Store under "nng." the mean of the floor's two payload runs, made
// before and after mirai-cpp's, so that a change of the machine's load
// during the run weighs on both sides of a ratio alike.
void average_floor(mirai::bench::results& r)
{
    for (const char* metric :
         {"payload_bytes", "payload_send_seconds", "payload_return_seconds"}) {
        auto before = r.get(std::string("nng_before.") + metric);
        auto after = r.get(std::string("nng_after.") + metric);
        if (before && after) {
            r.set(std::string("nng.") + metric, (*before + *after) / 2);
        }
    }
}

void run_peers(const bench_options& o, mirai::bench::results& r)
{
    auto output = mirai::bench::run_capture(
        {o.rscript, "--vanilla", o.peers, "--trips",
         std::to_string(o.own.trips), "--future-trips",
         std::to_string(o.future_trips), "--tasks",
         std::to_string(o.peer_tasks), "--map-tasks",
         std::to_string(o.own.map_tasks), "--payload-bytes",
         std::to_string(o.own.payload_bytes), "--repeats",
         std::to_string(o.own.repeats)});
    if (output.exit_status != 0) {
        r.add_note("peers script failed with exit status " +
                   std::to_string(output.exit_status));
    }
    r.parse_lines(output.out, "");
}

std::string load_average()
{
    std::ifstream file("/proc/loadavg");
    std::string one, five, fifteen;
    file >> one >> five >> fifteen;
    return one + " " + five + " " + fifteen;
}

} // namespace

int main(int argc, char** argv)
{
    bench_options o = parse_options(argc, argv);
    mirai::bench::results r;
    r.set("run.cores", std::thread::hardware_concurrency());
    r.set("run.payload_bytes", static_cast<double>(o.own.payload_bytes));
    r.add_note("load average at start: " + load_average());
    try {
        if (o.run_floor) {
            std::cerr << "mirai_bench: NNG floor\n";
            run_floor(o, r, "nng_before.");
        }
        std::cerr << "mirai_bench: mirai-cpp\n";
        floor_blocks blocks;
        if (o.run_floor) {
            o.own.before_latency_block = [&] { run_floor_block(o, blocks); };
        }
        {
            mirai::host::session session;
            mirai::bench::measure_own(o.own, r);
        }
        store_floor_blocks(blocks, r);
        if (o.run_floor) {
            std::cerr << "mirai_bench: NNG floor again\n";
            run_floor(o, r, "nng_after.");
            average_floor(r);
        }
        if (o.run_peers) {
            std::cerr << "mirai_bench: peers (parallel, future, mirai)\n";
            run_peers(o, r);
        }
    } catch (const std::exception& e) {
        std::cerr << "mirai_bench: " << e.what() << "\n";
        return 1;
    }
    r.add_note("PSOCK LB is clusterApplyLB, one task at a time, on " +
               std::to_string(o.peer_tasks) +
               " tasks; the other throughput rows use " +
               std::to_string(o.own.map_tasks));
    r.add_note("future latency uses " + std::to_string(o.future_trips) +
               " round trips of value(future(1))");
    if (o.run_floor) {
        r.add_note("NNG floor: round trips in " +
                   std::to_string(o.own.latency_blocks) +
                   " blocks between mirai-cpp's; payloads the mean of a "
                   "run before and one after mirai-cpp's");
    }
    r.add_note("load average at end: " + load_average());

    mirai::bench::derive_rates(r, static_cast<double>(o.own.payload_bytes));
    auto ratios = mirai::bench::compute_ratios(r);
    auto targets = mirai::bench::compute_targets(r);
    mirai::bench::print_table(std::cout, r);
    std::cout << "\n";
    mirai::bench::print_ratios(std::cout, ratios, targets);
    try {
        mirai::bench::write_json(o.out, r, ratios, targets);
    } catch (const std::exception& e) {
        std::cerr << "mirai_bench: " << e.what() << "\n";
        return 1;
    }
    std::cout << "results written to " << o.out << "\n";
    return 0;
}
