// Each measurement starts the daemons it needs and resets them at the end,
// so they do not share state. Results are checked, so that a fast wrong
// result cannot pass for a fast right one.
#include "bench/own.hpp"

#include "host/mirai.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace mh = mirai::host;

namespace mirai {
namespace bench {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start)
{
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

// The q-quantile (0..1) of values by the nearest rank; sorts values.
double quantile(std::vector<double>& values, double q)
{
    std::sort(values.begin(), values.end());
    auto rank = static_cast<std::size_t>(std::ceil(q * values.size()));
    rank = std::clamp<std::size_t>(rank, 1, values.size());
    return values[rank - 1];
}

// The resident set of a process in MB (2^20 bytes), from VmRSS.
double resident_mb(std::uint64_t pid)
{
    std::string path = "/proc/" + std::to_string(pid) + "/status";
    std::ifstream status(path);
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::stod(line.substr(6)) / 1024.0;
        }
    }
    throw std::runtime_error("read VmRSS from '" + path + "': not found");
}

// CPU seconds (user and system) that a process has used, from fields 14
// and 15 of /proc/PID/stat, in clock ticks. proc_name is a pid or "self".
double cpu_seconds(const std::string& proc_name)
{
    std::string path = "/proc/" + proc_name + "/stat";
    std::ifstream stat(path);
    std::string line;
    std::getline(stat, line);
    // The command name in field 2 may contain spaces; fields after it
    // start past the last ')'.
    std::size_t end = line.rfind(')');
    if (end == std::string::npos) {
        throw std::runtime_error("read CPU time from '" + path +
                                 "': unexpected format");
    }
    std::istringstream fields(line.substr(end + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; i++) {
        if (i >= 14) {
            ticks += std::stod(field);
        }
    }
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds used by this process and by the profile's daemons.
struct cpu_sample {
    double host;
    double daemons;
};

cpu_sample sample_cpu()
{
    cpu_sample sample{cpu_seconds("self"), 0};
    for (const mh::daemon_status& d : mh::status().daemons) {
        sample.daemons += cpu_seconds(std::to_string(d.pid));
    }
    return sample;
}

// Store the CPU time per operation since before, in microseconds, as
// <prefix>_host_cpu_us and <prefix>_daemon_cpu_us.
void store_cpu(results& out, const std::string& prefix,
               const cpu_sample& before, int operations)
{
    cpu_sample after = sample_cpu();
    out.set(prefix + "_host_cpu_us",
            (after.host - before.host) / operations * 1e6);
    out.set(prefix + "_daemon_cpu_us",
            (after.daemons - before.daemons) / operations * 1e6);
}

void check(bool ok, const std::string& description)
{
    if (!ok) {
        throw std::runtime_error("check failed: " + description);
    }
}

// Seconds until n daemons are connected and each has run one setup task.
double measure_startup(int n)
{
    auto start = clock_type::now();
    mh::daemons(n);
    mh::everywhere_options every;
    every.min = n;
    mh::everywhere("NULL", {}, every);
    return seconds_since(start);
}

void measure_startups(results& out)
{
    out.set("mirai_cpp.startup2_seconds", measure_startup(2));
    mh::daemons(0);
    out.set("mirai_cpp.startup4_seconds", measure_startup(4));

    // Idle: started, one task done, nothing running.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::vector<double> rss;
    for (const mh::daemon_status& d : mh::status().daemons) {
        rss.push_back(resident_mb(d.pid));
    }
    check(rss.size() == 4, "4 daemons in status()");
    double max = *std::max_element(rss.begin(), rss.end());
    out.set("mirai_cpp.idle_rss_mb", quantile(rss, 0.5));
    out.set("mirai_cpp.idle_rss_max_mb", max);
    mh::daemons(0);
}

void measure_latency(const own_options& options, results& out)
{
    int trips = options.trips;
    int blocks = std::clamp(options.latency_blocks, 1, trips);
    mh::daemons(1);
    check(mh::mirai("1").get<double>() == 1, "mirai(\"1\") returns 1");
    for (int i = 0; i < trips / 10 + 1; i++) {
        mh::mirai("1").value();
    }
    std::vector<double> times;
    times.reserve(static_cast<std::size_t>(trips));
    cpu_sample used{0, 0};
    for (int b = 0; b < blocks; b++) {
        if (options.before_latency_block) {
            options.before_latency_block();
        }
        int count = trips / blocks + (b < trips % blocks ? 1 : 0);
        cpu_sample before = sample_cpu();
        for (int i = 0; i < count; i++) {
            auto start = clock_type::now();
            mh::mirai("1").value();
            times.push_back(seconds_since(start));
        }
        cpu_sample after = sample_cpu();
        used.host += after.host - before.host;
        used.daemons += after.daemons - before.daemons;
    }
    out.set("mirai_cpp.latency_host_cpu_us", used.host / trips * 1e6);
    out.set("mirai_cpp.latency_daemon_cpu_us", used.daemons / trips * 1e6);
    out.set("mirai_cpp.latency_median", quantile(times, 0.5));
    out.set("mirai_cpp.latency_p99", quantile(times, 0.99));
    out.set("mirai_cpp.latency_trips", trips);
}

// Format times (in seconds) in order, with 3 decimals, separated by
// spaces.
std::string join_times(const std::vector<double>& times)
{
    std::string text;
    char one[32];
    for (double t : times) {
        std::snprintf(one, sizeof one, "%s%.3f", text.empty() ? "" : " ", t);
        text += one;
    }
    return text;
}

// Send a vector of payload_bytes to one daemon (which returns its length)
// and fetch one it made beforehand; the median of repeats each way.
void measure_payload(const own_options& options, results& out)
{
    R_xlen_t n = static_cast<R_xlen_t>(options.payload_bytes / 8);
    Rcpp::NumericVector x(n);
    for (R_xlen_t i = 0; i < n; i++) {
        x[i] = static_cast<double>(i) + 0.5;
    }
    mh::daemons(1);
    // A daemon cleans up after its start-up once its first task is done,
    // which added about 18 ms to the second transfer. Let that happen
    // first, as the latency and throughput rows warm up too.
    check(mh::mirai("TRUE").get<bool>(), "first task on the daemon");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::vector<double> sends;
    for (int i = 0; i < options.repeats; i++) {
        auto start = clock_type::now();
        double length = mh::mirai("length(x)", {{"x", x}}).get<double>();
        sends.push_back(seconds_since(start));
        check(length == static_cast<double>(n), "length(x) on the daemon");
    }

    mh::everywhere("payload <<- seq_len(n) + 0.5", {{"n", n}});
    std::vector<double> returns;
    for (int i = 0; i < options.repeats; i++) {
        auto start = clock_type::now();
        {
            Rcpp::RObject back = mh::mirai("payload").value();
            returns.push_back(seconds_since(start));
            check(Rf_xlength(back) == n, "length of the returned payload");
        }
    }
    mh::status_info info = mh::status();
    check(info.daemons.size() == 1, "1 daemon in status()");
    out.set("mirai_cpp.rss_after_payload_mb",
            resident_mb(info.daemons[0].pid));
    out.add_note("payload rounds (s): send " + join_times(sends) +
                 ", return " + join_times(returns));
    out.set("mirai_cpp.payload_send_seconds", quantile(sends, 0.5));
    out.set("mirai_cpp.payload_return_seconds", quantile(returns, 0.5));
    mh::daemons(0);
}

void measure_throughput(int tasks, results& out)
{
    mh::daemons(2);
    Rcpp::IntegerVector warm_up = Rcpp::seq_len(10);
    mh::mirai_map(warm_up, "function(x) x").collect_or_throw();

    Rcpp::IntegerVector items = Rcpp::seq_len(tasks);
    cpu_sample before = sample_cpu();
    auto start = clock_type::now();
    Rcpp::List values =
        mh::mirai_map(items, "function(x) x").collect_or_throw();
    double seconds = seconds_since(start);
    store_cpu(out, "mirai_cpp.map", before, tasks);
    check(values.size() == tasks, "one result per task");
    for (R_xlen_t i = 0; i < values.size(); i++) {
        check(Rcpp::as<int>(values[i]) == i + 1, "map result in order");
    }
    out.set("mirai_cpp.map_tasks", tasks);
    out.set("mirai_cpp.map_seconds", seconds);
    out.set("mirai_cpp.map_per_task", seconds / tasks);
    mh::daemons(0);
}

} // namespace

void measure_own(const own_options& options, results& out)
{
    auto selected = [&](const char* name) {
        return options.only.empty() || options.only == name;
    };
    if (selected("startup")) {
        measure_startups(out);
    }
    if (selected("latency")) {
        measure_latency(options, out);
    }
    if (selected("payload")) {
        measure_payload(options, out);
    }
    if (selected("throughput")) {
        measure_throughput(options.map_tasks, out);
    }
}

} // namespace bench
} // namespace mirai
