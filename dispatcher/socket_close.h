/*
 * Closing an NNG socket without risking the caller.
 *
 * NNG 1.5.2 (Debian 12) can leave nng_close() waiting for good when a pipe
 * closes just as it hands a message up (nanomsg/nng#1636, fixed in later
 * releases): a receive restarted on the closed pipe never finishes, and
 * the close waits for it. Neither the host nor a daemon may hang on that,
 * so closes go through this function.
 */
#pragma once

#include <stdbool.h>

#include <nng/nng.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Close sock on a helper thread and wait at most timeout_ms for it.
 * Returns true when the close finished. On false the socket is abandoned:
 * the helper thread stays blocked in NNG, and callbacks registered on the
 * socket must stay valid, so the caller must keep their data alive (leak
 * it). The event is logged as DSP-CLOSE-STUCK.
 */
bool dsp_socket_close_within(nng_socket sock, int timeout_ms);

#ifdef __cplusplus
}
#endif
