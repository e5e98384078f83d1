// mirai-fake-daemon URL PID: one fake daemon (tests/support/fake_daemon)
// in a process of its own, so that a test can end it with SIGKILL, the way
// a real daemon dies. It answers tasks as fake_daemon::echo does and exits
// once the dispatcher hangs up or says exit.
#include "tests/support/fake_daemon.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: mirai-fake-daemon URL PID\n");
        return 2;
    }
    try {
        auto* daemon =
            new mirai::test::fake_daemon(argv[1], std::stoull(argv[2]));
        while (!daemon->wait_disconnected(std::chrono::seconds(60))) {
        }
        // Leave the daemon (and its socket) to the process exit below.
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mirai-fake-daemon: %s\n", e.what());
        _exit(1);
    }
    // The kernel closes the connection; no nng_close, which can hang in
    // NNG 1.5.2 while the peer is still sending.
    _exit(0);
}
