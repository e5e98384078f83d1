// Scratch program: a host that dies while its autoexit-never daemon holds
// a batch. Prints the daemon's pid, then exits without a reset.
#include "host/mirai.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace mh = mirai::host;

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s URL FILE\n", argv[0]);
        return 64;
    }
    mh::session session;
    mh::daemons_options options;
    options.autoexit = mh::autoexit_mode::never;
    options.url = argv[1];
    mh::daemons(1, options);
    std::vector<mh::handle> tasks;
    for (int i = 0; i < 30; i++) {
        tasks.push_back(mh::mirai("1"));
    }
    for (const mh::handle& t : tasks) {
        t.wait();
    }
    tasks.clear();
    tasks.push_back(mh::mirai("1"));
    for (int i = 1; i <= 100; i++) {
        tasks.push_back(mh::mirai(
            "if (i == 1) Sys.sleep(1); cat(i, '\\n', file = f, append = TRUE)",
            {{"i", i}, {"f", std::string(argv[2])}}));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::printf("%llu\n",
        (unsigned long long) mh::status().daemons.at(0).pid);
    std::fflush(stdout);
    _exit(0);
}
