#include "host/detail/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace mirai {
namespace host {
namespace detail {

std::string render_progress(std::size_t done, std::size_t total,
                            double elapsed_seconds)
{
    std::size_t filled = total == 0 ? progress_bar_width
                                    : progress_bar_width * done / total;
    std::string bar(filled, '=');
    if (filled < progress_bar_width) {
        bar += '>';
        bar.append(progress_bar_width - filled - 1, ' ');
    }

    long seconds = elapsed_seconds > 0 ? static_cast<long>(elapsed_seconds)
                                       : 0;
    char clock[32];
    std::snprintf(clock, sizeof(clock), "%02ld:%02ld:%02ld", seconds / 3600,
                  seconds / 60 % 60, seconds % 60);
    return "[" + bar + "] " + std::to_string(done) + "/" +
           std::to_string(total) + " " + clock;
}

bool is_progress_shown(int fd)
{
    return isatty(fd) == 1;
}

} // namespace detail
} // namespace host
} // namespace mirai
