// The numbers of one bench run, keyed "<subject>.<metric>" (for example
// "mirai_cpp.latency_median" or "psock_lb.per_task"), and the report made
// from them: a table, RATIO lines, target checks and a JSON file.
#pragma once

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace mirai {
namespace bench {

class results {
public:
    void set(const std::string& key, double value) { values_[key] = value; }
    std::optional<double> get(const std::string& key) const;

    // A note printed under the table and stored in the JSON, such as a
    // peer that was skipped and why.
    void add_note(const std::string& note) { notes_.push_back(note); }

    // Parse "<key> <number>" lines into values, each key prefixed with
    // prefix; "skip <peer> <reason>" lines become notes. Other lines are
    // ignored.
    void parse_lines(const std::string& text, const std::string& prefix);

    const std::map<std::string, double>& values() const { return values_; }
    const std::vector<std::string>& notes() const { return notes_; }

private:
    std::map<std::string, double> values_;
    std::vector<std::string> notes_;
};

// One comparison: ours divided by theirs, lower is better for times.
struct ratio {
    std::string name;
    double value;
};

// One performance target and whether this run met it.
struct target {
    std::string name;
    double value;
    bool at_most; // value <= bound when true, value >= bound otherwise
    double bound;
    bool met() const { return at_most ? value <= bound : value >= bound; }
};

// Add "<subject>.payload_<way>_mb_per_s" for every payload time measured,
// from the payload size in bytes (1 MB = 10^6 bytes).
void derive_rates(results& r, double payload_bytes);

// The ratios that the measured values allow; comparisons whose peer did
// not run are left out.
std::vector<ratio> compute_ratios(const results& r);

// The targets whose inputs were measured.
std::vector<target> compute_targets(const results& r);

// The human-readable table of every subject and metric.
void print_table(std::ostream& out, const results& r);

// "RATIO <name> <value>" lines, then "TARGET ..." lines.
void print_ratios(std::ostream& out, const std::vector<ratio>& ratios,
                  const std::vector<target>& targets);

// Write everything as one JSON object to path, creating its directory.
// Throws std::runtime_error when the file cannot be written.
void write_json(const std::string& path, const results& r,
                const std::vector<ratio>& ratios,
                const std::vector<target>& targets);

} // namespace bench
} // namespace mirai
