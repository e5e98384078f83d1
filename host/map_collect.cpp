// Collecting a map with options: stop at the first failure, and a
// progress bar on terminals.
#include "host/map.hpp"

#include "host/detail/profile.hpp"
#include "host/detail/progress.hpp"
#include "host/detail/task_state.hpp"
#include "host/session.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace mirai {
namespace host {

namespace {

// How often the progress bar is redrawn when nothing resolves, so that
// its clock keeps moving.
constexpr auto redraw_interval = std::chrono::milliseconds(250);

void draw(std::size_t done, std::size_t total,
          std::chrono::steady_clock::time_point start)
{
    std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - start;
    std::string line =
        "\r" + detail::render_progress(done, total, elapsed.count());
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

} // namespace

std::size_t stop_mirai(const map_result& map)
{
    return stop_mirai(map.tasks());
}

Rcpp::List map_result::collect(const collect_options& options) const
{
    session::current().require_r_thread("collect map");
    if (options.stop_on_error || options.progress) {
        wait_all(options);
    }
    return collect();
}

void map_result::throw_failure(std::size_t index) const
{
    stop_mirai(*this);
    const handle& failed = tasks_[index];
    task_error cause = make_task_error(failed.value(), failed.id());
    std::string message = "collect map: element " + std::to_string(index + 1) +
                       " of " + std::to_string(tasks_.size()) +
                       " failed: " + cause.message();
    throw task_error(message, cause.code(), cause.message(), cause.call(),
                     cause.classes(), cause.stack_trace());
}

// Wait until every task resolves, sweeping only the unresolved ones each
// time any task of the session resolves.
void map_result::wait_all(const collect_options& options) const
{
    bool show = options.progress && detail::is_progress_shown(STDERR_FILENO);
    auto start = std::chrono::steady_clock::now();
    detail::resolution_signal& signal =
        *session::current().profiles().signal();
    std::vector<std::size_t> pending(tasks_.size());
    for (std::size_t i = 0; i < pending.size(); i++) {
        pending[i] = i;
    }

    while (true) {
        std::uint64_t generation;
        {
            std::lock_guard<std::mutex> lock(signal.mutex);
            generation = signal.generation;
        }
        std::size_t still_pending = 0;
        for (std::size_t index : pending) {
            const detail::task_state& state = *tasks_[index].state();
            if (!state.is_resolved()) {
                pending[still_pending++] = index;
            } else if (options.stop_on_error && state.is_failure()) {
                if (show) {
                    std::fputc('\n', stderr);
                }
                throw_failure(index);
            }
        }
        pending.resize(still_pending);
        if (show) {
            draw(tasks_.size() - pending.size(), tasks_.size(), start);
        }
        if (pending.empty()) {
            break;
        }
        // A resolution after the sweep bumps the generation, so the wait
        // cannot miss it.
        std::unique_lock<std::mutex> lock(signal.mutex);
        signal.cv.wait_for(lock, redraw_interval,
                           [&] { return signal.generation != generation; });
    }
    if (show) {
        std::fputc('\n', stderr);
    }
}

} // namespace host
} // namespace mirai
