/* loadgen: a bounded HTTP/1.1 load client for rollout tests (issue 7). It keeps C keep-alive
 * connections busy with GET requests for a fixed time, reopens each connection after R
 * requests, and prints one JSON object: counts, latency, which version answered, and which
 * versions connections opened after a moment T saw. Exit 0 when nothing failed, 1 otherwise,
 * 2 on bad usage. See README.md next to this file.
 *
 *   gcc -static -O2 -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXVERSIONS 32 /* distinct short bodies tracked; more are counted as "(other)" */
#define VERSIONLEN 64  /* a longer body is not a version */
#define RESPBUF 8192
#define TICK_MS 5 /* how often timeouts, the deadline and --after-file are checked */

enum state { S_WAIT, S_CONNECTING, S_SENDING, S_READING };

struct slot {
    int fd;
    enum state state;
    int64_t since_us;    /* connect or request start */
    int64_t retry_at_us; /* S_WAIT: when to connect again */
    int nreq;            /* responses on this connection */
    size_t conn_index;   /* its record in conns[] */
    size_t woff, len;
    char buf[RESPBUF];
    int headers_done, status, close_after;
    long long body_left;
    char body[VERSIONLEN + 1];
    size_t bodylen;
};

struct version {
    char name[VERSIONLEN + 1];
    long long count;
    double first_ms, last_ms;
};

struct conn_record {
    double opened_ms;
    uint64_t seen; /* bit v: versions[v] answered on this connection */
};

static struct sockaddr_in target;
static char request[1024];
static size_t request_len;
static int reqs_per_conn = 10, epfd;
static int64_t start_us, deadline_us, timeout_us = 5000000;
static long long requests, ok, failed, closed_early, connect_errors, resets, timeouts;
static struct version versions[MAXVERSIONS + 1];
static int nversions;
static uint32_t *latencies;
static size_t nlat, latcap;
static struct conn_record *conns;
static size_t nconns, conncap;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double rel_ms(int64_t t) { return (double)(t - start_us) / 1000.0; }

static void *grow(void *p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return p;
    size_t cap2 = *cap ? *cap * 2 : 4096;
    while (cap2 < need) cap2 *= 2;
    p = realloc(p, cap2 * size);
    if (!p) {
        fprintf(stderr, "loadgen: out of memory\n");
        exit(2);
    }
    *cap = cap2;
    return p;
}

static void usage(const char *why) {
    fprintf(stderr,
            "loadgen: %s\nusage: loadgen -c CONNS -d DURATION [-r REQS_PER_CONN] [-p PATH] [-t TIMEOUT]\n"
            "               [--after-ms T | --after-file FILE] [--then MS] HOST:PORT\n"
            "  durations: 10s, 500ms, 2m or plain seconds\n",
            why);
    exit(2);
}

static int64_t duration_us(const char *s, const char *flag) {
    char *end;
    double v = strtod(s, &end);
    double unit = 1e6;
    if (strcmp(end, "ms") == 0) unit = 1e3;
    else if (strcmp(end, "m") == 0) unit = 60e6;
    else if (*end && strcmp(end, "s") != 0) end = NULL;
    if (!end || end == s || v < 0) {
        char why[128];
        snprintf(why, sizeof why, "bad duration for %s: %s", flag, s);
        usage(why);
    }
    return (int64_t)(v * unit);
}

static int version_index(const char *name) {
    for (int i = 0; i < nversions; i++)
        if (strcmp(versions[i].name, name) == 0) return i;
    int i = nversions < MAXVERSIONS ? nversions++ : MAXVERSIONS;
    if (i == MAXVERSIONS) name = "(other)";
    if (!versions[i].name[0]) snprintf(versions[i].name, sizeof versions[i].name, "%s", name);
    return i;
}

static void record_response(struct slot *s, int64_t now) {
    int64_t lat = now - s->since_us;
    latencies = grow(latencies, &latcap, nlat + 1, sizeof *latencies);
    latencies[nlat++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
    if (s->status != 200) {
        failed++;
        return;
    }
    ok++;
    if (s->bodylen > VERSIONLEN) return;
    s->body[s->bodylen] = 0;
    while (s->bodylen && (s->body[s->bodylen - 1] == '\n' || s->body[s->bodylen - 1] == '\r'))
        s->body[--s->bodylen] = 0;
    struct version *v = &versions[version_index(s->body)];
    if (v->count++ == 0) v->first_ms = rel_ms(now);
    v->last_ms = rel_ms(now);
    conns[s->conn_index].seen |= 1ULL << (v - versions);
}

static void slot_close(struct slot *s, int64_t retry_at) {
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    s->state = S_WAIT;
    s->retry_at_us = retry_at;
}

static void slot_connect(struct slot *s, int64_t now);

/* Closes the connection and opens the next one at once, unless the run is over. */
static void slot_reopen(struct slot *s, int64_t now) {
    slot_close(s, now);
    if (now < deadline_us) slot_connect(s, now);
}

static void slot_connect(struct slot *s, int64_t now) {
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        connect_errors++;
        slot_close(s, now + 10000);
        return;
    }
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns = grow(conns, &conncap, nconns + 1, sizeof *conns);
    conns[nconns] = (struct conn_record){.opened_ms = rel_ms(now)};
    s->conn_index = nconns++;
    s->nreq = 0;
    s->since_us = now;
    s->state = S_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
    epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev);
    if (connect(s->fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) {
        connect_errors++;
        /* A short pause, so that a closed port is not hammered in a busy loop. */
        slot_close(s, now + 10000);
    }
}

static void slot_send(struct slot *s, int64_t now) {
    s->state = S_SENDING;
    s->since_us = now;
    s->woff = s->len = 0;
    s->headers_done = s->status = s->close_after = 0;
    s->body_left = -1;
    s->bodylen = 0;
    requests++;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
    epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
}

/* A request that ended without a whole response. */
static void slot_fail(struct slot *s, int err, int64_t now) {
    if (err == ECONNRESET) resets++;
    else closed_early++, failed++;
    slot_reopen(s, now);
}

/* Parses the header block in s->buf. Returns 0 when it is incomplete, -1 when malformed. */
static int parse_headers(struct slot *s) {
    char *end = memmem(s->buf, s->len, "\r\n\r\n", 4);
    if (!end) return s->len >= RESPBUF ? -1 : 0;
    *end = 0;
    if (sscanf(s->buf, "HTTP/1.%*1[01] %3d", &s->status) != 1) return -1;
    for (char *line = strstr(s->buf, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, "Content-Length:", 15) == 0) s->body_left = strtoll(line + 15, NULL, 10);
        else if (strncasecmp(line, "Connection:", 11) == 0 && strcasestr(line, "close")) s->close_after = 1;
    }
    if (s->body_left < 0) return -1; /* webapp always sends a length on these endpoints */
    size_t used = (size_t)(end - s->buf) + 4;
    memmove(s->buf, s->buf + used, s->len - used);
    s->len -= used;
    s->headers_done = 1;
    return 1;
}

static void on_event(struct slot *s, int64_t now) {
    int err = 0;
    socklen_t elen = sizeof err;
    if (s->state == S_CONNECTING) {
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
        if (err) {
            connect_errors++;
            slot_close(s, now + 10000);
            return;
        }
        if (now >= deadline_us) {
            slot_close(s, INT64_MAX);
            return;
        }
        slot_send(s, now);
    }
    if (s->state == S_SENDING) {
        ssize_t n = send(s->fd, request + s->woff, request_len - s->woff, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            slot_fail(s, errno, now);
            return;
        }
        if (n > 0) s->woff += (size_t)n;
        if (s->woff < request_len) return;
        s->state = S_READING;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
        epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
        return;
    }
    if (s->state != S_READING) return;
    ssize_t n = read(s->fd, s->buf + s->len, RESPBUF - s->len);
    if (n < 0) {
        if (errno != EAGAIN) slot_fail(s, errno, now);
        return;
    }
    if (n == 0) {
        slot_fail(s, 0, now);
        return;
    }
    s->len += (size_t)n;
    if (!s->headers_done) {
        int r = parse_headers(s);
        if (r < 0) {
            failed++;
            slot_reopen(s, now);
            return;
        }
        if (r == 0) return;
    }
    size_t k = s->len < (size_t)s->body_left ? s->len : (size_t)s->body_left;
    if (s->bodylen < VERSIONLEN + 1) {
        size_t keep = k < VERSIONLEN + 1 - s->bodylen ? k : VERSIONLEN + 1 - s->bodylen;
        memcpy(s->body + s->bodylen, s->buf, keep);
    }
    s->bodylen += k;
    s->body_left -= (long long)k;
    memmove(s->buf, s->buf + k, s->len - k);
    s->len -= k;
    if (s->body_left > 0) return;
    if (s->len) {
        failed++; /* bytes after the body: we never pipeline, so the framing is wrong */
        slot_reopen(s, now);
        return;
    }
    record_response(s, now);
    s->nreq++;
    if (s->close_after || s->nreq >= reqs_per_conn || now >= deadline_us) slot_reopen(s, now);
    else slot_send(s, now);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

static void report(int64_t elapsed_us, double after_ms) {
    qsort(latencies, nlat, sizeof *latencies, cmp_u32);
    uint32_t p50 = nlat ? latencies[nlat / 2] : 0, p99 = nlat ? latencies[(nlat * 99) / 100] : 0;
    uint32_t max = nlat ? latencies[nlat - 1] : 0;
    long long after_by_version[MAXVERSIONS + 1] = {0}, after_total = 0, mixed = 0;
    for (size_t i = 0; i < nconns; i++) {
        if (__builtin_popcountll(conns[i].seen) > 1) mixed++;
        if (after_ms < 0 || conns[i].opened_ms < after_ms) continue;
        after_total++;
        for (int v = 0; v <= MAXVERSIONS; v++)
            if (conns[i].seen & (1ULL << v)) after_by_version[v]++;
    }
    printf("{\"requests\":%lld,\"ok\":%lld,\"failed\":%lld,\"closed_early\":%lld,\"connect_errors\":%lld,"
           "\"resets\":%lld,\"timeouts\":%lld,\"connections\":%zu,\"mixed_version_connections\":%lld,",
           requests, ok, failed, closed_early, connect_errors, resets, timeouts, nconns, mixed);
    printf("\"duration_ms\":%.0f,\"requests_per_sec\":%.0f,\"latency_us\":{\"p50\":%u,\"p99\":%u,\"max\":%u},",
           elapsed_us / 1000.0, elapsed_us ? ok * 1e6 / elapsed_us : 0.0, p50, p99, max);
    printf("\"versions\":{");
    int shown = nversions + (versions[MAXVERSIONS].count > 0);
    for (int v = 0; v < shown; v++) {
        if (v == nversions) v = MAXVERSIONS;
        printf(v ? "," : "");
        json_string(versions[v].name);
        printf(":{\"count\":%lld,\"first_seen_ms\":%.1f,\"last_seen_ms\":%.1f}", versions[v].count,
               versions[v].first_ms, versions[v].last_ms);
    }
    if (after_ms < 0) printf("},\"after_ms\":null,\"new_connections_after\":0,");
    else printf("},\"after_ms\":%.1f,\"new_connections_after\":%lld,", after_ms, after_total);
    printf("\"new_connections_by_version_after\":{");
    for (int v = 0, first = 1; v <= MAXVERSIONS; v++) {
        if (!after_by_version[v]) continue;
        printf(first ? "" : ",");
        first = 0;
        json_string(versions[v].name);
        printf(":%lld", after_by_version[v]);
    }
    printf("}}\n");
}

int main(int argc, char **argv) {
    int nslots = 0;
    int64_t duration = -1;
    double after_ms = -1, then_ms = -1;
    const char *path = "/", *after_file = NULL;
    static const struct option longopts[] = {
        {"after-ms", required_argument, NULL, 'A'}, {"after-file", required_argument, NULL, 'F'},
        {"then", required_argument, NULL, 'T'}, {0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "c:d:r:p:t:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': nslots = atoi(optarg); break;
        case 'd': duration = duration_us(optarg, "-d"); break;
        case 'r': reqs_per_conn = atoi(optarg); break;
        case 'p': path = optarg; break;
        case 't': timeout_us = duration_us(optarg, "-t"); break;
        case 'A': after_ms = strtod(optarg, NULL); break;
        case 'F': after_file = optarg; break;
        case 'T': then_ms = strtod(optarg, NULL); break;
        default: usage("unknown option");
        }
    }
    if (optind + 1 != argc) usage("give one HOST:PORT");
    if (nslots < 1 || nslots > 10000) usage("-c must be 1..10000");
    if (duration < 0) usage("-d is required");
    if (reqs_per_conn < 1) usage("-r must be at least 1");
    if (path[0] != '/' || strpbrk(path, " \r\n")) usage("-p must be a path starting with /");

    char host[256];
    const char *colon = strrchr(argv[optind], ':');
    if (!colon || (size_t)(colon - argv[optind]) >= sizeof host) usage("bad HOST:PORT");
    snprintf(host, sizeof host, "%.*s", (int)(colon - argv[optind]), argv[optind]);
    int port = atoi(colon + 1);
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)port);
    if (port < 1 || port > 65535 ||
        inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &target.sin_addr) != 1)
        usage("bad HOST:PORT (an IPv4 address or localhost, and a port)");
    request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, argv[optind]);
    if (request_len >= sizeof request) usage("-p is too long");

    signal(SIGPIPE, SIG_IGN);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct slot *slots = calloc((size_t)nslots, sizeof *slots);
    if (!slots || epfd < 0) usage("out of memory");
    start_us = now_us();
    int64_t now = start_us;
    deadline_us = start_us + duration;
    for (int i = 0; i < nslots; i++) slot_connect(&slots[i], now);

    struct epoll_event evs[256];
    int64_t last_tick = 0;
    for (;;) {
        int n = epoll_wait(epfd, evs, 256, TICK_MS);
        now = now_us();
        for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, now);
        if (now - last_tick < TICK_MS * 1000) continue;
        last_tick = now;
        if (after_file && after_ms < 0 && access(after_file, F_OK) == 0) after_ms = rel_ms(now);
        /* --then: stop that long after the marker, however long -d was (a hand-off under
         * emulation can take seconds, so tests give a generous -d and end relative to it). */
        if (then_ms >= 0 && after_ms >= 0 && start_us + (int64_t)((after_ms + then_ms) * 1000) < deadline_us)
            deadline_us = start_us + (int64_t)((after_ms + then_ms) * 1000);
        int busy = 0;
        for (int i = 0; i < nslots; i++) {
            struct slot *s = &slots[i];
            if (s->state != S_WAIT) {
                busy = 1;
                if (now - s->since_us < timeout_us) continue;
                if (s->state == S_CONNECTING) connect_errors++;
                else timeouts++;
                slot_close(s, now);
            }
            /* Past the deadline nothing new starts; requests in flight still get their answer. */
            if (s->state == S_WAIT && now < deadline_us && now >= s->retry_at_us) slot_connect(s, now), busy = 1;
        }
        if (!busy && now >= deadline_us) break;
    }
    report(now - start_us, after_ms);
    return failed || closed_early || connect_errors || resets || timeouts ? 1 : 0;
}
