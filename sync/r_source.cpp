// The R half of sync, parsed once by install_r_support() into a private
// environment whose parent is the base environment. The S3 methods are
// then copied to the "mirai.cpp" entry of the search path and registered
// with their generics, so they dispatch from any environment.
#include "sync/detail/support.hpp"

namespace mirai {
namespace sync {
namespace detail {

const char* support_source()
{
    return R"R_SOURCE(
# Evaluate one task. It returns list(0L, value) for a value. An error or
# an interrupt leaves its kind (1 or 2), the condition and the calls on
# the stack in box, then leaves through R's "abort" restart, which unwinds
# to the evaluator's guard in C; box_result then builds the result.
# Calling handlers cost a fraction of tryCatch's exiting ones. A task
# whose value happens to be an error object is still reported as a value.
eval_task <- function(task_expr, task_data, box) {
    if (is.null(task_data))
        task_data <- list()
    task_envir <- list2env(task_data, envir = NULL, parent = .GlobalEnv)
    depth <- 0L
    run <- function() {
        depth <<- sys.nframe()
        eval(task_expr, task_envir)
    }
    list(0L, withCallingHandlers(
        run(),
        error = function(cond) {
            box$calls <- sys.calls()
            box$depth <- depth
            box$cond <- cond
            box$kind <- 1L
            abort_to_top_level()
        },
        interrupt = function(cond) {
            box$kind <- 2L
            abort_to_top_level()
        }
    ))
}

# Jump to the top level through R's own "abort" restart, which is always
# the last one computeRestarts() lists. invokeRestart("abort") would take
# an "abort" restart that the task set up itself.
abort_to_top_level <- function() {
    restarts <- computeRestarts()
    invokeRestart(restarts[[length(restarts)]])
}

# The result that eval_task left in box: list(1L, error) or
# list(2L, interrupt). It runs once the stack has unwound, so that a task
# that failed by recursing too deeply still gets its error and trace.
box_result <- function(box) {
    if (identical(box$kind, 2L))
        return(list(2L, new_interrupt()))
    list(1L, condition_error(box$cond, task_calls(box$calls, box$depth)))
}

# The call in run() above. eval() appears with it once or twice on the
# stack, and it is the condition call of an error raised at the top level
# of the task.
eval_marker <- quote(eval(task_expr, task_envir))

# Deparse a call to its first line, at most about 500 characters, so that
# a call holding a large inlined object stays short.
deparse_call <- function(call) {
    deparse(call, width.cutoff = 500L, backtick = TRUE, nlines = 1L)[1L]
}

# Keep the task's own frames of the calls seen by the error handler, drop
# the evaluator's frames below them and the handler's frames above them,
# and return them innermost first as a list of strings.
task_calls <- function(calls, depth) {
    calls <- as.list(calls)
    last <- length(calls) - 1L
    first <- depth + 1L
    while (first <= last && identical(calls[[first]], eval_marker))
        first <- first + 1L
    if (last >= first &&
        identical(calls[[last]][[1L]], quote(.handleSimpleError)))
        last <- last - 1L
    if (last < first)
        return(list())
    lapply(calls[last:first], deparse_call)
}

# Attribute names that a condition field must not overwrite.
reserved_names <- c("message", "call", "condition.class", "stack.trace",
                    "class", "names", "dim", "dimnames", "tsp",
                    "row.names", "levels", "comment")

condition_error <- function(cond, trace) {
    call <- conditionCall(cond)
    call <- if (is.null(call) || identical(call, eval_marker)) NULL
            else deparse_call(call)
    fields <- list()
    if (is.list(cond) && !is.null(names(cond))) {
        keep <- !(names(cond) %in% c(reserved_names, ""))
        fields <- unclass(cond)[keep]
    }
    new_error(conditionMessage(cond), call, class(cond), trace, fields)
}

new_error <- function(message, call = NULL,
                      classes = c("simpleError", "error", "condition"),
                      trace = list(), fields = list()) {
    message <- paste(as.character(message), collapse = "\n")
    text <- if (is.null(call)) paste0("Error: ", message)
            else paste0("Error in ", call, ": ", message)
    fields$message <- message
    fields$call <- call
    fields$condition.class <- classes
    fields$stack.trace <- trace
    fields$class <- c("miraiError", "errorValue", "try-error")
    attributes(text) <- fields
    text
}

new_interrupt <- function() {
    structure("", class = c("miraiInterrupt", "errorValue", "try-error"))
}

new_error_value <- function(code) {
    structure(as.integer(code), class = c("errorValue", "try-error"))
}

# The texts of NNG 1.5.2's nng_strerror() for its codes 1 to 31.
nng_texts <- c(
    "Interrupted", "Out of memory", "Invalid argument", "Resource busy",
    "Timed out", "Connection refused", "Object closed", "Try again",
    "Not supported", "Address in use", "Incorrect state",
    "Entry not found", "Protocol error", "Destination unreachable",
    "Address invalid", "Permission denied", "Message too large",
    "Connection aborted", "Connection reset", "Operation canceled",
    "Out of files", "Out of space", "Resource already exists",
    "Read only resource", "Write only resource", "Cryptographic error",
    "Peer could not be authenticated", "Option requires argument",
    "Ambiguous option", "Incorrect type", "Connection shutdown"
)

# "<code> | <text>". System errors (flag 0x10000000) carry an errno that
# only C can translate, so they print the number.
error_text <- function(code) {
    code <- as.integer(unclass(code))[1L]
    text <- if (is.na(code)) "Unknown error"
        else if (code >= 1L && code <= length(nng_texts)) nng_texts[code]
        else if (code == 1000L) "Internal error detected"
        else if (bitwAnd(code, 0x10000000L) != 0L)
            sprintf("System error #%d", bitwAnd(code, 0x0fffffffL))
        else if (bitwAnd(code, 0x20000000L) != 0L)
            sprintf("Transport error #%d", bitwAnd(code, 0x0fffffffL))
        else sprintf("Unknown error #%d", code)
    paste(code, "|", text)
}

print.miraiError <- function(x, ...) {
    cat(sprintf("'miraiError' chr %s\n", x))
    invisible(x)
}

print.miraiInterrupt <- function(x, ...) {
    cat("'miraiInterrupt' chr \"\"\n")
    invisible(x)
}

print.errorValue <- function(x, ...) {
    cat(sprintf("'errorValue' int %s\n", error_text(x)))
    invisible(x)
}

`$.miraiError` <- function(x, name) attr(x, name, exact = TRUE)

conditionMessage.miraiError <- function(c) attr(c, "message", exact = TRUE)

conditionCall.miraiError <- function(c) attr(c, "call", exact = TRUE)

.DollarNames.miraiError <- function(x, pattern = "") {
    grep(pattern, names(attributes(x)), value = TRUE)
}

# Attach the methods as "mirai.cpp" unless already attached, and register
# them with their generics. Both steps can run again without harm.
install <- function() {
    methods <- list(
        list("print", "miraiError", print.miraiError),
        list("print", "miraiInterrupt", print.miraiInterrupt),
        list("print", "errorValue", print.errorValue),
        list("$", "miraiError", `$.miraiError`),
        list("conditionMessage", "miraiError", conditionMessage.miraiError),
        list("conditionCall", "miraiError", conditionCall.miraiError)
    )
    if (!("mirai.cpp" %in% search())) {
        attached <- attach(NULL, name = "mirai.cpp", warn.conflicts = FALSE)
        for (m in methods)
            assign(paste(m[[1L]], m[[2L]], sep = "."), m[[3L]],
                   envir = attached)
    }
    for (m in methods)
        registerS3method(m[[1L]], m[[2L]], m[[3L]], envir = baseenv())
    # The generic lives in utils, so registration needs an environment
    # that sees utils but is not its namespace.
    if (isNamespaceLoaded("utils"))
        registerS3method(".DollarNames", "miraiError",
                         .DollarNames.miraiError,
                         envir = new.env(parent = asNamespace("utils")))
    invisible(NULL)
}
)R_SOURCE";
}

} // namespace detail
} // namespace sync
} // namespace mirai
