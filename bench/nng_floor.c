/*
 * The transport's floor: what NNG alone costs between two processes on
 * this machine, with no R and no dispatcher, for the bench to compare
 * mirai-cpp against.
 *
 * The program spawns a copy of itself as the server (posix_spawn, since
 * NNG is not safe across a plain fork), both open pair1 sockets joined
 * over ipc:// in a private temporary directory, and the client measures:
 *
 *   - round trips of a tiny message echoed by the server;
 *   - a large message sent to the server, until its one-byte ack arrives;
 *   - a large message prepared by the server beforehand and sent back on
 *     request, until it has arrived.
 *
 * Output: one "key value" line per result, times in seconds.
 *
 *   nng_floor [--trips N] [--bytes N] [--repeats N] [--no-payload]
 */
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/util/platform.h>

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Commands, the first byte of each message the client sends. */
enum floor_command {
    CMD_ECHO = 'e',    /* send the message back as it is */
    CMD_SINK = 's',    /* take a large message, reply with one byte */
    CMD_PREPARE = 'p', /* allocate and fill a large reply, then ack */
    CMD_FETCH = 'f',   /* send the prepared reply */
    CMD_QUIT = 'q'
};

/* The size of the tiny message of a round trip. */
#define TINY_BYTES 16

/* How long to try to connect to the server before giving up. */
#define DIAL_TIMEOUT_MS 10000

/* How long the server waits for the client to hang up after quitting. */
#define HANG_UP_TIMEOUT_MS 5000

/*
 * How long either side waits for the other's next message before it
 * gives up, so that neither waits forever for a peer that was killed.
 */
#define PEER_IDLE_TIMEOUT_MS 30000

/* Set by the server's pipe callback once the client has hung up. */
static atomic_int peer_gone;

struct floor_options {
    int trips;
    size_t bytes;
    int repeats;
    int measure_payload; /* 0 with --no-payload: round trips only */
};

static void
fail(const char *operation, int rv)
{
    fprintf(stderr, "nng_floor: %s: %s\n", operation, nng_strerror(rv));
    exit(1);
}

static double
now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static nng_socket
open_socket(void)
{
    nng_socket sock;
    int rv = nng_pair1_open(&sock);
    if (rv != 0) {
        fail("open pair1 socket", rv);
    }
    /* 0 lifts the receive size limit, as the dispatcher does. */
    nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 0);
    return sock;
}

static nng_msg *
receive(nng_socket sock)
{
    nng_msg *msg;
    int rv = nng_recvmsg(sock, &msg, 0);
    if (rv != 0) {
        fail("receive", rv);
    }
    return msg;
}

static void
send_msg(nng_socket sock, nng_msg *msg)
{
    int rv = nng_sendmsg(sock, msg, 0);
    if (rv != 0) {
        fail("send", rv);
    }
}

/* A message of len bytes, every byte written, starting with command. */
static nng_msg *
filled_msg(char command, size_t len)
{
    nng_msg *msg;
    int rv = nng_msg_alloc(&msg, len);
    if (rv != 0) {
        fail("allocate message", rv);
    }
    unsigned char *body = nng_msg_body(msg);
    memset(body, 0x5a, len);
    body[0] = (unsigned char) command;
    return msg;
}

static char
command_of(nng_msg *msg)
{
    if (nng_msg_len(msg) == 0) {
        fprintf(stderr, "nng_floor: server: empty message\n");
        exit(1);
    }
    return (char) ((unsigned char *) nng_msg_body(msg))[0];
}

static void
on_pipe_removed(nng_pipe pipe, nng_pipe_ev event, void *arg)
{
    (void) pipe;
    (void) event;
    (void) arg;
    atomic_store(&peer_gone, 1);
}

/*
 * Wait for the client to close its socket, so that the quit ack is
 * surely delivered before this process closes its own.
 */
static void
wait_for_hang_up(void)
{
    for (int waited = 0; waited < HANG_UP_TIMEOUT_MS; waited++) {
        if (atomic_load(&peer_gone)) {
            return;
        }
        nng_msleep(1);
    }
}

static int
serve(const char *url, size_t bytes)
{
    nng_socket sock = open_socket();
    int rv = nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, on_pipe_removed,
        NULL);
    if (rv != 0) {
        fail("watch pipes", rv);
    }
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, PEER_IDLE_TIMEOUT_MS);
    rv = nng_listen(sock, url, NULL, 0);
    if (rv != 0) {
        fail("listen", rv);
    }

    nng_msg *prepared = NULL;
    for (;;) {
        nng_msg *msg = receive(sock);
        switch (command_of(msg)) {
        case CMD_ECHO:
            send_msg(sock, msg);
            break;
        case CMD_SINK:
            /* Ack first, so freeing the large message is not timed. */
            send_msg(sock, filled_msg(CMD_SINK, 1));
            nng_msg_free(msg);
            break;
        case CMD_PREPARE:
            nng_msg_free(msg);
            if (prepared != NULL) {
                nng_msg_free(prepared);
            }
            prepared = filled_msg(CMD_FETCH, bytes);
            send_msg(sock, filled_msg(CMD_PREPARE, 1));
            break;
        case CMD_FETCH:
            nng_msg_free(msg);
            if (prepared == NULL) {
                prepared = filled_msg(CMD_FETCH, bytes);
            }
            send_msg(sock, prepared);
            prepared = NULL;
            break;
        case CMD_QUIT:
            nng_msg_free(msg);
            if (prepared != NULL) {
                nng_msg_free(prepared);
            }
            send_msg(sock, filled_msg(CMD_QUIT, 1));
            wait_for_hang_up();
            nng_close(sock);
            return 0;
        default:
            fprintf(stderr, "nng_floor: server: unknown command %d\n",
                command_of(msg));
            return 1;
        }
    }
}

static int
compare_doubles(const void *a, const void *b)
{
    double x = *(const double *) a;
    double y = *(const double *) b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of sorted values, by the nearest rank. */
static double
quantile(const double *sorted, int n, double q)
{
    int rank = (int) (q * n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > n) {
        rank = n;
    }
    return sorted[rank - 1];
}

static double
median_of(double *values, int n)
{
    qsort(values, (size_t) n, sizeof(*values), compare_doubles);
    return quantile(values, n, 0.5);
}

static void
measure_round_trips(nng_socket sock, int trips)
{
    double *times = malloc(sizeof(double) * (size_t) trips);
    if (times == NULL) {
        fail("allocate timings", NNG_ENOMEM);
    }
    /* A short warm-up, as the bench gives mirai-cpp. */
    for (int i = 0; i < trips / 10 + 1; i++) {
        send_msg(sock, filled_msg(CMD_ECHO, TINY_BYTES));
        nng_msg_free(receive(sock));
    }
    for (int i = 0; i < trips; i++) {
        nng_msg *msg = filled_msg(CMD_ECHO, TINY_BYTES);
        double start = now_seconds();
        send_msg(sock, msg);
        msg = receive(sock);
        times[i] = now_seconds() - start;
        nng_msg_free(msg);
    }
    qsort(times, (size_t) trips, sizeof(*times), compare_doubles);
    printf("round_trip_median %.9f\n", quantile(times, trips, 0.5));
    printf("round_trip_p99 %.9f\n", quantile(times, trips, 0.99));
    printf("round_trips %d\n", trips);
    free(times);
}

static void
measure_payloads(nng_socket sock, size_t bytes, int repeats)
{
    double *sends = malloc(sizeof(double) * (size_t) repeats);
    double *fetches = malloc(sizeof(double) * (size_t) repeats);
    if (sends == NULL || fetches == NULL) {
        fail("allocate timings", NNG_ENOMEM);
    }
    for (int i = 0; i < repeats; i++) {
        nng_msg *msg = filled_msg(CMD_SINK, bytes);
        double start = now_seconds();
        send_msg(sock, msg);
        nng_msg_free(receive(sock));
        sends[i] = now_seconds() - start;

        send_msg(sock, filled_msg(CMD_PREPARE, 1));
        nng_msg_free(receive(sock));
        start = now_seconds();
        send_msg(sock, filled_msg(CMD_FETCH, 1));
        msg = receive(sock);
        fetches[i] = now_seconds() - start;
        if (nng_msg_len(msg) != bytes) {
            fprintf(stderr, "nng_floor: expected %zu bytes back, got %zu\n",
                bytes, nng_msg_len(msg));
            exit(1);
        }
        nng_msg_free(msg);
    }
    printf("payload_bytes %zu\n", bytes);
    printf("payload_send_seconds %.9f\n", median_of(sends, repeats));
    printf("payload_return_seconds %.9f\n", median_of(fetches, repeats));
    free(sends);
    free(fetches);
}

static nng_socket
dial_with_retry(const char *url)
{
    nng_socket sock = open_socket();
    double deadline = now_seconds() + DIAL_TIMEOUT_MS / 1000.0;
    int rv;
    while ((rv = nng_dial(sock, url, NULL, 0)) != 0) {
        if (now_seconds() > deadline) {
            fail("dial the server", rv);
        }
        nng_msleep(5);
    }
    return sock;
}

static pid_t
spawn_server(const char *self, const char *url, size_t bytes)
{
    char size_text[32];
    snprintf(size_text, sizeof(size_text), "%zu", bytes);
    char *argv[] = {(char *) self, "--serve", (char *) url, size_text, NULL};
    pid_t pid;
    int rv = posix_spawn(&pid, self, NULL, NULL, argv, environ);
    if (rv != 0) {
        fprintf(stderr, "nng_floor: spawn server '%s': %s\n", self,
            strerror(rv));
        exit(1);
    }
    return pid;
}

static int
run_client(const struct floor_options *opts)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        fprintf(stderr, "nng_floor: read /proc/self/exe: %s\n",
            strerror(errno));
        return 1;
    }
    self[len] = '\0';

    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/nng-floor-XXXXXX",
        tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "nng_floor: create directory '%s': %s\n", dir,
            strerror(errno));
        return 1;
    }
    char path[600];
    char url[640];
    snprintf(path, sizeof(path), "%s/floor.sock", dir);
    snprintf(url, sizeof(url), "ipc://%s", path);

    pid_t server = spawn_server(self, url, opts->bytes);
    nng_socket sock = dial_with_retry(url);
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, PEER_IDLE_TIMEOUT_MS);

    measure_round_trips(sock, opts->trips);
    if (opts->measure_payload) {
        measure_payloads(sock, opts->bytes, opts->repeats);
    }

    send_msg(sock, filled_msg(CMD_QUIT, 1));
    nng_msg_free(receive(sock));
    nng_close(sock);
    int status = 0;
    waitpid(server, &status, 0);
    unlink(path);
    rmdir(dir);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "nng_floor: server ended with status %d\n", status);
        return 1;
    }
    return 0;
}

static long
parse_positive(const char *name, const char *text)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value <= 0) {
        fprintf(stderr, "nng_floor: %s: expected a positive integer, got "
            "'%s'\n", name, text);
        exit(2);
    }
    return value;
}

int
main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--serve") == 0) {
        return serve(argv[2], (size_t) parse_positive("size", argv[3]));
    }

    struct floor_options opts = {2000, 100 * 1000 * 1000, 3, 1};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-payload") == 0) {
            opts.measure_payload = 0;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "usage: nng_floor [--trips N] [--bytes N] "
                "[--repeats N] [--no-payload]\n");
            return 2;
        }
        if (strcmp(argv[i], "--trips") == 0) {
            opts.trips = (int) parse_positive("--trips", argv[++i]);
        } else if (strcmp(argv[i], "--bytes") == 0) {
            opts.bytes = (size_t) parse_positive("--bytes", argv[++i]);
        } else if (strcmp(argv[i], "--repeats") == 0) {
            opts.repeats = (int) parse_positive("--repeats", argv[++i]);
        } else {
            fprintf(stderr, "nng_floor: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    return run_client(&opts);
}
