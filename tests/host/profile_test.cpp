#include "host/mirai.hpp"

#include "tests/host/host_fixture.hpp"

#include <cstdio>

namespace mh = mirai::host;
using mirai::test::daemons_guard;
using mirai::test::host_session;

TEST_CASE("profiles keep their own daemons", "[host][r][net]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options gpu;
    gpu.profile = "gpu";
    mh::daemons(1);
    mh::daemons(2, gpu);

    mh::task_options on_gpu;
    on_gpu.profile = "gpu";
    double pid_default = mh::mirai("Sys.getpid()").get<double>();
    double pid_gpu = mh::mirai("Sys.getpid()", {}, on_gpu).get<double>();
    CHECK(pid_default != pid_gpu);
    CHECK(mh::status().connections == 1);
    CHECK(mh::status("gpu").connections == 2);
    CHECK(mh::status("gpu").completed == 1);

    mh::daemons(0, gpu);
    CHECK_FALSE(mh::status("gpu").is_set);
    CHECK(mh::mirai("1").get<int>() == 1);
}

TEST_CASE("sync mode runs tasks in the host's R", "[host][r]")
{
    host_session();
    daemons_guard guard;
    mh::daemons_options sync;
    sync.sync = true;
    sync.profile = "local";
    mh::daemons(1);
    mh::daemons(0, sync);

    mh::task_options local;
    local.profile = "local";
    mh::handle here = mh::mirai("Sys.getpid()", {}, local);
    CHECK_FALSE(here.unresolved());
    CHECK(here.get<double>() == static_cast<double>(getpid()));
    mh::handle there = mh::mirai("Sys.getpid()");
    CHECK(there.get<double>() != static_cast<double>(getpid()));
    CHECK(mh::status("local").sync);

    mh::handle error = mh::mirai("stop('in sync')", {}, local);
    CHECK(error.is_error());
    CHECK_THROWS_WITH(error.get<int>(), Catch::Contains("in sync"));
}

#ifdef MIRAI_EXAMPLES_DIR
TEST_CASE("browser in a sync task reads piped commands", "[host][r]")
{
    std::string command = "printf 'x\\nx <- 99\\nc\\n' | " +
                          std::string(MIRAI_EXAMPLES_DIR) +
                          "/debug_sync 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string output;
    char buffer[256];
    while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) {
        output += buffer;
    }
    int status = pclose(pipe);
    INFO(output);
    CHECK(status == 0);
    CHECK(output.find("Browse[") != std::string::npos);
    CHECK(output.find("[1] 41") != std::string::npos);
    CHECK(output.find("result: 100") != std::string::npos);
}
#endif // MIRAI_EXAMPLES_DIR

TEST_CASE("session off the main thread is rejected", "[host][r]")
{
    std::string message;
    std::thread other([&] {
        try {
            mirai::host::session s;
        } catch (const mirai::host::error& e) {
            message = e.what();
        }
    });
    other.join();
    CHECK(message == "create session: must run on the process's main "
                     "thread, as R can only start there; called from "
                     "another thread");
}
