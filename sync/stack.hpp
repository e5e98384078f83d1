// R's C stack check in an embedded R.
#pragma once

namespace mirai {
namespace sync {

// Turn on R's C stack check, which RInside leaves off. Without it, deep
// recursion in R (serializing a list nested 100,000 deep, say) overflows
// the stack and kills the process. With it, R raises the error
// "C stack usage ... is too close to the limit", which is caught like any
// other error. The limit is 90% of the stack size limit (ulimit -s); with
// no such limit the check stays off. Call once, on the thread that
// started R, which must be the process's main thread: R measures the
// stack from the start of the main thread's stack.
void enable_c_stack_check() noexcept;

} // namespace sync
} // namespace mirai
