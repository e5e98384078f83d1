// Checking task_options, shared by mirai() and mirai_map().
#pragma once

#include "host/task.hpp"

namespace mirai {
namespace host {
namespace detail {

// Throw error "<operation>: expected ..." for a timeout that is not
// positive or a negative retry count.
void check_task_options(const task_options& options, const char* operation);

} // namespace detail
} // namespace host
} // namespace mirai
