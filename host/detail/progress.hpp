// The progress bar that map_result::collect draws on a terminal.
#pragma once

#include <cstddef>
#include <string>

namespace mirai {
namespace host {
namespace detail {

// Width of the bar between its brackets, in characters.
constexpr std::size_t progress_bar_width = 30;

// One line of progress, without a line ending:
// "[=========>                    ] 10/30 00:01:05". done/total rounds
// down to whole characters; elapsed_seconds is shown as hh:mm:ss. A
// total of 0 draws a full bar.
std::string render_progress(std::size_t done, std::size_t total,
                            double elapsed_seconds);

// True when fd is a terminal: progress is drawn only there, so logs and
// pipes never receive carriage returns.
bool is_progress_shown(int fd);

} // namespace detail
} // namespace host
} // namespace mirai
