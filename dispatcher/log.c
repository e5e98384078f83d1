/*
 * The shared logging function. The sink is swapped under a mutex; a call
 * formats into a stack buffer, so logging allocates nothing.
 */
#include "dispatcher/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static dsp_log_cb log_sink = NULL;
static void *log_sink_arg = NULL;
static int log_max_level = DSP_LOG_WARN;

const char *
dsp_log_level_name(int level)
{
    switch (level) {
    case DSP_LOG_ERROR:
        return "error";
    case DSP_LOG_WARN:
        return "warn";
    case DSP_LOG_NOTICE:
        return "notice";
    case DSP_LOG_INFO:
        return "info";
    case DSP_LOG_DEBUG:
        return "debug";
    default:
        return level < DSP_LOG_ERROR ? "critical" : "trace";
    }
}

void
dsp_log_set_sink(dsp_log_cb sink, void *arg, int max_level)
{
    pthread_mutex_lock(&log_lock);
    log_sink = sink;
    log_sink_arg = arg;
    log_max_level = max_level;
    pthread_mutex_unlock(&log_lock);
}

void
dsp_log(int level, const char *msgid, const char *fmt, ...)
{
    char message[1024];
    va_list ap;

    pthread_mutex_lock(&log_lock);
    dsp_log_cb sink = log_sink;
    void *arg = log_sink_arg;
    int max_level = log_max_level;
    pthread_mutex_unlock(&log_lock);

    if (level > max_level) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);

    if (sink != NULL) {
        sink(arg, level, msgid, message);
        return;
    }
    fprintf(stderr, "[%s] %s: %s\n", dsp_log_level_name(level), msgid,
        message);
}
