#include "sync/stack.hpp"

// Rinterface.h declares R's stack bounds only when CSTACK_DEFNS is set.
#define CSTACK_DEFNS
#include <Rinterface.h>

#include <sys/resource.h>

#include <cstdint>

namespace mirai {
namespace sync {

void enable_c_stack_check() noexcept
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_STACK, &limit) != 0 ||
        limit.rlim_cur == RLIM_INFINITY || R_CStackStart == (uintptr_t)-1) {
        return;
    }
    R_CStackLimit = static_cast<uintptr_t>(limit.rlim_cur / 10 * 9);
}

} // namespace sync
} // namespace mirai
