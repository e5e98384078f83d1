// Exceptions thrown by the host API.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace mirai {
namespace host {

// Misuse of the API or a failure of the runtime itself (a daemon that
// cannot start, a URL that cannot be bound, a call from the wrong thread).
// The message has the form "<operation> <object>: <problem>[: <cause>]".
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A task that did not produce a value, raised by a typed get(). Either
// the task's R code raised an error (code() is 0 and message(), call(),
// classes() and stack_trace() describe the R condition), the task was
// interrupted, or it ended with an error value: 5 timed out, 19
// connection reset (its daemon was lost or the daemons were reset),
// 20 cancelled.
class task_error : public std::runtime_error {
public:
    task_error(std::string what, int code, std::string message,
               std::string call, std::vector<std::string> classes,
               std::vector<std::string> stack_trace)
        : std::runtime_error(std::move(what)), code_(code),
          message_(std::move(message)), call_(std::move(call)),
          classes_(std::move(classes)), stack_trace_(std::move(stack_trace))
    {
    }

    // The error value, or 0 for an R error or an interrupt.
    int code() const noexcept { return code_; }
    // conditionMessage() of the R error, or the error value's text.
    const std::string& message() const noexcept { return message_; }
    // The deparsed call of the R error; empty when there was none.
    const std::string& call() const noexcept { return call_; }
    // class() of the R condition, e.g. {"simpleError", "error",
    // "condition"}; {"miraiInterrupt"} or {"errorValue"} otherwise.
    const std::vector<std::string>& classes() const noexcept
    {
        return classes_;
    }
    // The calls on the task's stack when the error was raised, innermost
    // first, each deparsed.
    const std::vector<std::string>& stack_trace() const noexcept
    {
        return stack_trace_;
    }

private:
    int code_;
    std::string message_;
    std::string call_;
    std::vector<std::string> classes_;
    std::vector<std::string> stack_trace_;
};

} // namespace host
} // namespace mirai
