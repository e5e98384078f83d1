/*
 * One logging function shared by the host, the worker and the dispatcher.
 *
 * Each event has a syslog level, a stable message id in COMPONENT-EVENT
 * form (DSP-WORKER-LOST, HOST-R-INIT) and a message written as
 * "<operation> <object>: <problem>[: <cause>]". The default sink writes
 * warnings and worse to stderr; an embedding application may install its
 * own sink. Every function here may be called from any thread.
 */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

enum dsp_log_level {
    DSP_LOG_ERROR = 3,
    DSP_LOG_WARN = 4,
    DSP_LOG_NOTICE = 5,
    DSP_LOG_INFO = 6,
    DSP_LOG_DEBUG = 7
};

/*
 * A log sink. It is called on the thread that logged, possibly an NNG
 * thread, so it must not block for long and must not call into R.
 */
typedef void (*dsp_log_cb)(void *arg, int level, const char *msgid,
    const char *message);

/*
 * Replace the sink and the most verbose level passed to it. A NULL sink
 * restores the default (stderr). Events above max_level are dropped
 * before they are formatted.
 */
void dsp_log_set_sink(dsp_log_cb sink, void *arg, int max_level);

/* Log one event; fmt is a printf format for the message. */
void dsp_log(int level, const char *msgid, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif /* defined(__GNUC__) */
    ;

/* The lower-case name of a level ("error", "warn", ...). */
const char *dsp_log_level_name(int level);

#ifdef __cplusplus
}
#endif
