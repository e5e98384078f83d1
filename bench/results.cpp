#include "bench/results.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include <sys/stat.h>

namespace mirai {
namespace bench {

namespace {

// The columns of the table: a key prefix and its heading.
struct column {
    const char* subject;
    const char* heading;
};

const column columns[] = {
    {"mirai_cpp", "mirai-cpp"}, {"nng", "NNG floor"},
    {"psock", "PSOCK"},         {"psock_lb", "PSOCK LB"},
    {"parlapply", "parLapply"}, {"future", "future"},
    {"future_apply", "future_lapply"}, {"mirai", "mirai (R)"},
};

// A row: its label, the metric looked up under each subject (a subject
// may name it differently, so a row can list aliases), and a scale.
struct row {
    const char* label;
    std::vector<const char*> metrics;
    double scale;
    int decimals;
};

const std::vector<row>& rows()
{
    static const std::vector<row> all = {
        {"latency, median (us)", {"latency_median", "round_trip_median"},
         1e6, 1},
        {"latency, p99 (us)", {"latency_p99", "round_trip_p99"}, 1e6, 1},
        {"latency, round trips", {"latency_trips", "round_trips"}, 1, 0},
        {"latency, host CPU (us)", {"latency_host_cpu_us"}, 1, 1},
        {"latency, daemon CPU (us)", {"latency_daemon_cpu_us"}, 1, 1},
        {"throughput, per task (us)", {"map_per_task", "per_task"}, 1e6, 1},
        {"throughput, host CPU (us)", {"map_host_cpu_us"}, 1, 1},
        {"throughput, daemons CPU (us)", {"map_daemon_cpu_us"}, 1, 1},
        {"throughput, total (s)", {"map_seconds", "seconds"}, 1, 3},
        {"throughput, tasks", {"map_tasks", "tasks"}, 1, 0},
        {"payload send (s)", {"payload_send_seconds"}, 1, 3},
        {"payload send (MB/s)", {"payload_send_mb_per_s"}, 1, 0},
        {"payload return (s)", {"payload_return_seconds"}, 1, 3},
        {"payload return (MB/s)", {"payload_return_mb_per_s"}, 1, 0},
        {"startup, 2 workers (s)", {"startup2_seconds"}, 1, 3},
        {"startup, 4 workers (s)", {"startup4_seconds"}, 1, 3},
        {"idle worker RSS (MB)", {"idle_rss_mb"}, 1, 1},
    };
    return all;
}

std::optional<double> lookup(const results& r, const char* subject,
                             const std::vector<const char*>& metrics)
{
    for (const char* metric : metrics) {
        auto value = r.get(std::string(subject) + "." + metric);
        if (value) {
            return value;
        }
    }
    return std::nullopt;
}

std::string format_number(double value, int decimals)
{
    std::ostringstream text;
    text << std::fixed << std::setprecision(decimals) << value;
    return text.str();
}

// ours / theirs for two keys, when both were measured and theirs > 0.
void add_ratio(std::vector<ratio>& out, const results& r,
               const std::string& name, const std::string& ours,
               const std::string& theirs)
{
    auto a = r.get(ours);
    auto b = r.get(theirs);
    if (a && b && *b > 0) {
        out.push_back({name, *a / *b});
    }
}

void make_directories(const std::string& path)
{
    for (std::size_t at = path.find('/', 1); at != std::string::npos;
         at = path.find('/', at + 1)) {
        std::string dir = path.substr(0, at);
        if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
            throw std::runtime_error("create directory '" + dir +
                                     "': " + std::strerror(errno));
        }
    }
}

std::string json_string(const std::string& text)
{
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
            out += escaped;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string json_number(double value)
{
    if (!std::isfinite(value)) {
        return "null";
    }
    char text[32];
    std::snprintf(text, sizeof(text), "%.9g", value);
    return text;
}

} // namespace

std::optional<double> results::get(const std::string& key) const
{
    auto it = values_.find(key);
    if (it == values_.end()) {
        return std::nullopt;
    }
    return it->second;
}

void results::parse_lines(const std::string& text, const std::string& prefix)
{
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string key;
        fields >> key;
        if (key == "skip") {
            std::string peer;
            fields >> peer;
            std::string reason;
            std::getline(fields, reason);
            add_note("skipped " + peer + ":" + reason);
            continue;
        }
        double value;
        if (!key.empty() && fields >> value) {
            set(prefix + key, value);
        }
    }
}

void derive_rates(results& r, double payload_bytes)
{
    for (const column& c : columns) {
        for (const char* way : {"send", "return"}) {
            std::string prefix = std::string(c.subject) + ".payload_" + way;
            auto seconds = r.get(prefix + "_seconds");
            if (seconds && *seconds > 0) {
                r.set(prefix + "_mb_per_s", payload_bytes / 1e6 / *seconds);
            }
        }
    }
}

std::vector<ratio> compute_ratios(const results& r)
{
    const std::string us = "mirai_cpp.";
    std::vector<ratio> out;
    add_ratio(out, r, "throughput_vs_psock_lb", us + "map_per_task",
              "psock_lb.per_task");
    add_ratio(out, r, "throughput_vs_parlapply", us + "map_per_task",
              "parlapply.per_task");
    add_ratio(out, r, "throughput_vs_future_apply", us + "map_per_task",
              "future_apply.per_task");
    add_ratio(out, r, "throughput_vs_mirai", us + "map_per_task",
              "mirai.map_per_task");
    add_ratio(out, r, "latency_vs_nng_floor", us + "latency_median",
              "nng.round_trip_median");
    add_ratio(out, r, "latency_p99_vs_nng_floor", us + "latency_p99",
              "nng.round_trip_p99");
    for (const char* peer : {"psock", "future", "mirai"}) {
        std::string p = peer;
        add_ratio(out, r, "latency_vs_" + p, us + "latency_median",
                  p + ".latency_median");
    }
    for (const char* way : {"send", "return"}) {
        std::string w = way;
        std::string key = "payload_" + w + "_seconds";
        add_ratio(out, r, "payload_" + w + "_vs_nng_floor", us + key,
                  "nng." + key);
        for (const char* peer : {"psock", "future", "mirai"}) {
            std::string p = peer;
            add_ratio(out, r, "payload_" + w + "_vs_" + p, us + key,
                      p + "." + key);
        }
    }
    for (const char* peer : {"psock", "future", "mirai"}) {
        std::string p = peer;
        add_ratio(out, r, "startup2_vs_" + p, us + "startup2_seconds",
                  p + ".startup2_seconds");
        add_ratio(out, r, "startup4_vs_" + p, us + "startup4_seconds",
                  p + ".startup4_seconds");
        add_ratio(out, r, "idle_rss_vs_" + p, us + "idle_rss_mb",
                  p + ".idle_rss_mb");
    }
    return out;
}

std::vector<target> compute_targets(const results& r)
{
    std::vector<target> out;
    for (const ratio& q : compute_ratios(r)) {
        if (q.name == "throughput_vs_psock_lb") {
            out.push_back({q.name, q.value, true, 0.3});
        } else if (q.name == "latency_vs_nng_floor") {
            out.push_back({q.name, q.value, true, 1.5});
        }
    }
    auto add = [&](const char* key, bool at_most, double bound) {
        auto value = r.get(std::string("mirai_cpp.") + key);
        if (value) {
            out.push_back({key, *value, at_most, bound});
        }
    };
    add("payload_send_mb_per_s", false, 1000);
    add("payload_return_mb_per_s", false, 1000);
    add("idle_rss_mb", true, 60);
    add("startup4_seconds", true, 0.7);
    return out;
}

void print_table(std::ostream& out, const results& r)
{
    std::vector<const column*> visible;
    for (const column& c : columns) {
        for (const row& w : rows()) {
            if (lookup(r, c.subject, w.metrics)) {
                visible.push_back(&c);
                break;
            }
        }
    }

    out << std::left << std::setw(28) << "metric";
    for (const column* c : visible) {
        out << std::right << std::setw(14) << c->heading;
    }
    out << "\n";
    for (const row& w : rows()) {
        out << std::left << std::setw(28) << w.label;
        for (const column* c : visible) {
            auto value = lookup(r, c->subject, w.metrics);
            std::string text =
                value ? format_number(*value * w.scale, w.decimals) : "-";
            out << std::right << std::setw(14) << text;
        }
        out << "\n";
    }
    for (const std::string& note : r.notes()) {
        out << "note: " << note << "\n";
    }
}

void print_ratios(std::ostream& out, const std::vector<ratio>& ratios,
                  const std::vector<target>& targets)
{
    for (const ratio& q : ratios) {
        out << "RATIO " << q.name << " " << format_number(q.value, 3)
            << "\n";
    }
    for (const target& t : targets) {
        out << "TARGET " << t.name << " " << format_number(t.value, 3)
            << (t.at_most ? " <= " : " >= ") << t.bound << " "
            << (t.met() ? "met" : "missed") << "\n";
    }
}

void write_json(const std::string& path, const results& r,
                const std::vector<ratio>& ratios,
                const std::vector<target>& targets)
{
    make_directories(path);
    std::ofstream file(path);
    if (!file) {
        throw std::runtime_error("write '" + path +
                                 "': " + std::strerror(errno));
    }
    file << "{\n  \"results\": {";
    const char* separator = "\n";
    for (const auto& entry : r.values()) {
        file << separator << "    " << json_string(entry.first) << ": "
             << json_number(entry.second);
        separator = ",\n";
    }
    file << "\n  },\n  \"ratios\": {";
    separator = "\n";
    for (const ratio& q : ratios) {
        file << separator << "    " << json_string(q.name) << ": "
             << json_number(q.value);
        separator = ",\n";
    }
    file << "\n  },\n  \"targets\": [";
    separator = "\n";
    for (const target& t : targets) {
        file << separator << "    {\"name\": " << json_string(t.name)
             << ", \"value\": " << json_number(t.value)
             << ", \"bound\": " << json_number(t.bound)
             << ", \"at_most\": " << (t.at_most ? "true" : "false")
             << ", \"met\": " << (t.met() ? "true" : "false") << "}";
        separator = ",\n";
    }
    file << "\n  ],\n  \"notes\": [";
    separator = "\n";
    for (const std::string& note : r.notes()) {
        file << separator << "    " << json_string(note);
        separator = ",\n";
    }
    file << "\n  ]\n}\n";
    if (!file) {
        throw std::runtime_error("write '" + path + "': write failed");
    }
}

} // namespace bench
} // namespace mirai
