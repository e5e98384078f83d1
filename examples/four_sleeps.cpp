// Four daemons and a map of four one-second sleeps: the map takes about
// one second, not four. Prints the wall time of the map alone.
#include "host/mirai.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>

namespace mh = mirai::host;

int main()
{
    try {
        mh::session session;
        mh::daemons(4);

        auto start = std::chrono::steady_clock::now();
        Rcpp::NumericVector seconds = {1, 1, 1, 1};
        mh::map_result map = mh::mirai_map(seconds, "Sys.sleep");
        map.collect_or_throw();
        std::chrono::duration<double> elapsed =
            std::chrono::steady_clock::now() - start;
        std::printf("elapsed: %.3f s\n", elapsed.count());

        mh::daemons(0);
    } catch (const std::exception& e) {
        std::cerr << "four_sleeps: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
