// Sync mode: tasks run in the host's own R, so browser() inside a task
// stops and reads debugger commands from standard input. Try:
//   printf 'x\nx <- 99\nc\n' | build/examples/debug_sync
// which prints x, changes it, continues, and the task returns 100.
#include "host/mirai.hpp"

#include <exception>
#include <iostream>

namespace mh = mirai::host;

int main()
{
    try {
        mh::session_options options;
        options.interactive = true;
        mh::session session(options);

        mh::daemons_options sync;
        sync.sync = true;
        mh::daemons(0, sync);

        mh::handle task = mh::mirai(
            "f <- function(x) { browser(); x + 1 }; f(x)", {{"x", 41}});
        std::cout << "result: " << task.get<int>() << std::endl;
    } catch (const std::exception& e) {
        std::cerr << "debug_sync: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
