// Four daemons, one task that sleeps a second and adds two numbers; the
// host prints R's printout of the value: [1] 142.
#include "host/mirai.hpp"

#include <exception>
#include <iostream>

namespace mh = mirai::host;

int main()
{
    try {
        mh::session session;
        mh::daemons(4);

        mh::handle task = mh::mirai("Sys.sleep(1); 100 + x", {{"x", 42}});
        Rf_PrintValue(task.value());

        mh::daemons(0);
    } catch (const std::exception& e) {
        std::cerr << "quickstart: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
