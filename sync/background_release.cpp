// One detached thread that drops the owners handed to it, in order.
#include "sync/detail/background_release.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace mirai {
namespace sync {
namespace detail {
namespace {

// The queue outlives every static destructor (it is never deleted), so a
// finalizer that runs during exit still finds it.
struct release_queue {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::shared_ptr<const void>> owners;
    bool is_started = false;
};

release_queue& queue()
{
    static release_queue* instance = new release_queue;
    return *instance;
}

void drain(release_queue* q)
{
    std::unique_lock<std::mutex> lock(q->mutex);
    while (true) {
        q->cv.wait(lock, [q] { return !q->owners.empty(); });
        std::shared_ptr<const void> owner = std::move(q->owners.front());
        q->owners.pop_front();
        lock.unlock();
        owner.reset();
        lock.lock();
    }
}

} // namespace

void release_in_background(std::shared_ptr<const void> owner) noexcept
{
    release_queue& q = queue();
    try {
        std::lock_guard<std::mutex> lock(q.mutex);
        if (!q.is_started) {
            std::thread(drain, &q).detach();
            q.is_started = true;
        }
        q.owners.push_back(std::move(owner));
    } catch (...) {
        return; // owner, if still set, is released here on return
    }
    q.cv.notify_one();
}

} // namespace detail
} // namespace sync
} // namespace mirai
