// The malloc option a daemon sets at start-up, checked in this process.
#include "worker/detail/startup_memory.hpp"

#include <catch2/catch.hpp>

#include <malloc.h>

#include <cstdlib>

namespace {

// Allocate size bytes and write the first, so the compiler keeps the call.
void* touched_malloc(std::size_t size)
{
    void* block = std::malloc(size);
    if (block != nullptr) {
        static_cast<volatile char*>(block)[0] = 1;
    }
    return block;
}

} // namespace

TEST_CASE("malloc maps large blocks after a free", "[worker]")
{
    mirai::worker::detail::set_malloc_options();
    constexpr std::size_t block_bytes = 1024 * 1024;

    // glibc's default raises its mmap threshold past 1 MB at this free().
    void* first = touched_malloc(block_bytes);
    REQUIRE(first != nullptr);
    std::free(first);

    std::size_t mapped_before = mallinfo2().hblks;
    void* second = touched_malloc(block_bytes);
    REQUIRE(second != nullptr);
    CHECK(mallinfo2().hblks == mapped_before + 1);
    std::free(second);
    CHECK(mallinfo2().hblks == mapped_before);
}
