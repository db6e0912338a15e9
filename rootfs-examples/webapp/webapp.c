/* webapp: the example service for rollouts (issue 7). A single-process, epoll-driven
 * HTTP/1.1 server with keep-alive, plus an optional raw TCP echo listener.
 * See README.md next to this file for the endpoints and flags.
 *
 *   gcc -static -O2 -o webapp webapp.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define INBUF 16384           /* request bytes held per connection */
#define MAXHEADER 8192        /* a longer header block gets 431 */
#define HIGHWATER (256 << 10) /* stop reading while this much output waits */
#define CHUNK (64 << 10)      /* /bytes is produced in pieces of this size */
#define DRAIN_IDLE_MS 500     /* see drain() */
#define MAX_SLOW_MS 3600000
#define LINGER_MS 1000      /* see refuse() */

enum mode { M_IDLE, M_DISCARD, M_SLOW, M_FIXED, M_BYTES, M_ECHO, M_HOLD, M_RAW, M_LINGER };
enum route { R_ROOT, R_HEALTH, R_SLOW, R_HOLD, R_BYTES, R_ECHO };

struct conn {
    int fd, tfd;
    enum mode mode;
    enum route route;     /* the request being served */
    int close_after;      /* close once the current response is out */
    int linger;           /* ... and read what the client still sends first (refuse()) */
    int peer_eof;
    uint32_t events;      /* the epoll mask registered now */
    char peer[48];
    char in[INBUF];
    size_t inlen;
    char *out;
    size_t outlen, outoff, outcap;
    uint64_t left;        /* /bytes: bytes still to produce; /echo, discard: body bytes to come */
    uint64_t pos;         /* /bytes: offset in the pattern */
    uint64_t arg;         /* /slow: ms; /bytes: n */
    unsigned ticks;       /* /hold: lines sent */
    char request[80];     /* "GET /path", for the log */
};

static const char *version;
static int quiet, reset_mode, draining;
static int epfd, sigfd, http_fd = -1, echo_fd = -1;
static int nconns;
static struct conn **byfd; /* socket and timer fds to their connection */
static size_t byfd_cap;

static void logf_(const char *fmt, ...) {
    if (quiet) return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    /* One write per line, unbuffered: lines reach a log pipe in order even if we are killed. */
    ssize_t w = write(1, line, n);
    (void)w;
}

static void die(const char *fmt, const char *arg) {
    fprintf(stderr, "webapp: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(2);
}

static void track(int fd, struct conn *c) {
    if ((size_t)fd >= byfd_cap) {
        size_t cap = byfd_cap ? byfd_cap : 1024;
        while (cap <= (size_t)fd) cap *= 2;
        struct conn **n = realloc(byfd, cap * sizeof *n);
        if (!n) die("%s", "out of memory");
        memset(n + byfd_cap, 0, (cap - byfd_cap) * sizeof *n);
        byfd = n;
        byfd_cap = cap;
    }
    byfd[fd] = c;
}

static void watch(int fd, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
}

static size_t pending(const struct conn *c) { return c->outlen - c->outoff; }

static void out_append(struct conn *c, const void *data, size_t len) {
    if (c->outoff == c->outlen) c->outoff = c->outlen = 0;
    if (c->outlen + len > c->outcap) {
        /* Move the unsent bytes to the front before growing. */
        memmove(c->out, c->out + c->outoff, pending(c));
        c->outlen -= c->outoff;
        c->outoff = 0;
        if (c->outlen + len > c->outcap) {
            size_t cap = c->outcap ? c->outcap : 4096;
            while (cap < c->outlen + len) cap *= 2;
            char *n = realloc(c->out, cap);
            if (!n) die("%s", "out of memory");
            c->out = n;
            c->outcap = cap;
        }
    }
    memcpy(c->out + c->outlen, data, len);
    c->outlen += len;
}

static void out_printf(struct conn *c, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) out_append(c, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void conn_close(struct conn *c, const char *why) {
    logf_("conn %d close %s", c->fd, why);
    byfd[c->fd] = NULL;
    close(c->fd);
    if (c->tfd >= 0) {
        byfd[c->tfd] = NULL;
        close(c->tfd);
    }
    free(c->out);
    free(c);
    nconns--;
    if (draining && nconns == 0) {
        logf_("drained, exiting");
        exit(0);
    }
}

/* Arms the connection's timer: once after ms, or every ms when repeat is set. */
static void timer_arm(struct conn *c, uint64_t ms, int repeat) {
    if (c->tfd < 0) {
        c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (c->tfd < 0) die("timerfd_create: %s", strerror(errno));
        track(c->tfd, c);
        watch(c->tfd, EPOLLIN);
    }
    struct itimerspec it = {0};
    /* A zero it_value disarms the timer, so /slow?ms=0 waits a nanosecond instead. */
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_nsec = (long)(ms % 1000) * 1000000 + (ms == 0);
    if (repeat) it.it_interval = it.it_value;
    timerfd_settime(c->tfd, 0, &it, NULL);
}

/* The /bytes pattern: every 16-byte line is its own offset in 15 hex digits and "\n", so a
 * lost, doubled or reordered piece changes the checksum. awk can make it: printf "%015x\n". */
static void pattern(char *dst, uint64_t pos, size_t len) {
    static const char hex[] = "0123456789abcdef";
    while (len) {
        uint64_t line = pos & ~(uint64_t)15;
        char l[16];
        for (int i = 14; i >= 0; i--) l[14 - i] = hex[(line >> (4 * i)) & 15];
        l[15] = '\n';
        size_t off = pos - line, k = 16 - off < len ? 16 - off : len;
        memcpy(dst, l + off, k);
        dst += k;
        pos += k;
        len -= k;
    }
}

static void headers(struct conn *c, int status, const char *reason, long long length) {
    logf_("conn %d %s %d", c->fd, c->request, status);
    out_printf(c, "HTTP/1.1 %d %s\r\nServer: webapp\r\nX-Version: %s\r\nContent-Type: text/plain\r\n",
               status, reason, version);
    if (length >= 0) out_printf(c, "Content-Length: %lld\r\n", length);
    out_printf(c, "Connection: %s\r\n\r\n", c->close_after ? "close" : "keep-alive");
}

static void respond(struct conn *c, int status, const char *reason, const char *body) {
    headers(c, status, reason, (long long)strlen(body));
    out_append(c, body, strlen(body));
    c->mode = M_FIXED;
}

/* An error that ends the connection: the rest of the input cannot be trusted. Closing with
 * unread input makes the kernel send a reset, which can destroy the error response before the
 * client reads it; so after the response, our write side is shut down and the input is read
 * and dropped until the client closes or LINGER_MS passes. */
static void refuse(struct conn *c, int status, const char *reason) {
    c->close_after = 1;
    c->linger = 1;
    c->inlen = 0;
    char body[64];
    snprintf(body, sizeof body, "%d %s\n", status, reason);
    respond(c, status, reason, body);
}

/* Starts the response to the parsed request; its body, if any, has been read or is streaming. */
static void dispatch(struct conn *c) {
    char line[64];
    switch (c->route) {
    case R_ROOT:
        snprintf(line, sizeof line, "%s\n", version);
        respond(c, 200, "OK", line);
        break;
    case R_HEALTH: respond(c, 200, "OK", "ok\n"); break;
    case R_SLOW:
        c->mode = M_SLOW;
        timer_arm(c, c->arg, 0);
        break;
    case R_HOLD:
        /* No length: the body ends when the connection does. */
        c->close_after = 1;
        headers(c, 200, "OK", -1);
        c->ticks = 0;
        c->mode = M_HOLD;
        timer_arm(c, 1000, 1);
        break;
    case R_BYTES:
        headers(c, 200, "OK", (long long)c->arg);
        c->left = c->arg;
        c->pos = 0;
        c->mode = M_BYTES;
        break;
    case R_ECHO:
        headers(c, 200, "OK", (long long)c->left);
        c->mode = M_ECHO;
        break;
    }
}

/* The unsigned number after "name=" in the query, or -1. */
static long long query_number(const char *query, const char *name) {
    size_t n = strlen(name);
    for (const char *p = query; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            char *end;
            if (p[n + 1] < '0' || p[n + 1] > '9') return -1;
            errno = 0;
            unsigned long long v = strtoull(p + n + 1, &end, 10);
            if (errno || (*end && *end != '&') || v > (1ULL << 50)) return -1;
            return (long long)v;
        }
    }
    return -1;
}

/* Does the comma-separated header value contain token (case-insensitively)? */
static int has_token(const char *value, const char *token) {
    size_t n = strlen(token);
    for (const char *p = value; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if ((size_t)(t - p) == n && strncasecmp(p, token, n) == 0) return 1;
        p = e;
    }
    return 0;
}

/* Parses one request from c->in. Returns 0 when more bytes are needed, 1 when a response has
 * started (the request's header bytes are consumed). */
static int parse_request(struct conn *c) {
    char *end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
    snprintf(c->request, sizeof c->request, "(bad)");
    if (!end) {
        if (c->inlen < MAXHEADER) return 0;
        refuse(c, 431, "Request Header Fields Too Large");
        return 1;
    }
    size_t used = (size_t)(end - c->in) + 4;
    if (used > MAXHEADER) {
        refuse(c, 431, "Request Header Fields Too Large");
        return 1;
    }
    char head[MAXHEADER + 1];
    memcpy(head, c->in, used - 2);
    head[used - 2] = 0;
    memmove(c->in, c->in + used, c->inlen - used);
    c->inlen -= used;

    char *save, *line = strtok_r(head, "\r\n", &save);
    char method[16], target[2048], proto[16];
    if (!line || strlen(line) > 2100 ||
        sscanf(line, "%15[A-Z] %2047[^ ] %15[^ ]", method, target, proto) != 3 ||
        strlen(method) + strlen(target) + strlen(proto) + 2 != strlen(line) ||
        (strcmp(proto, "HTTP/1.1") != 0 && strcmp(proto, "HTTP/1.0") != 0) || target[0] != '/') {
        refuse(c, 400, "Bad Request");
        return 1;
    }
    snprintf(c->request, sizeof c->request, "%s %.60s", method, target);
    int keep = strcmp(proto, "HTTP/1.1") == 0;
    long long length = 0;
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        char *colon = strchr(line, ':'), *blank = strpbrk(line, " \t");
        if (!colon || colon == line || (blank && blank < colon)) {
            refuse(c, 400, "Bad Request");
            return 1;
        }
        *colon = 0;
        char *value = colon + 1;
        while (*value == ' ' || *value == '\t') value++;
        if (strcasecmp(line, "Content-Length") == 0) {
            char *e;
            errno = 0;
            length = strtoll(value, &e, 10);
            if (errno || e == value || *e || length < 0 || *value == '-' || *value == '+') {
                refuse(c, 400, "Bad Request");
                return 1;
            }
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            /* Chunked request bodies are not needed here; refusing beats misframing them. */
            refuse(c, 501, "Not Implemented");
            return 1;
        } else if (strcasecmp(line, "Connection") == 0) {
            if (has_token(value, "close")) keep = 0;
            else if (has_token(value, "keep-alive")) keep = 1;
        }
    }
    if (!keep || draining) c->close_after = 1;

    char *query = strchr(target, '?');
    if (query) *query++ = 0;
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    long long n = 0;
    if (strcmp(target, "/echo") == 0) {
        if (!post) goto not_allowed;
        c->route = R_ECHO;
        c->left = (uint64_t)length;
        dispatch(c);
        return 1;
    }
    if (strcmp(target, "/") == 0) c->route = R_ROOT;
    else if (strcmp(target, "/health") == 0) c->route = R_HEALTH;
    else if (strcmp(target, "/hold") == 0) c->route = R_HOLD;
    else if (strcmp(target, "/slow") == 0) c->route = R_SLOW, n = query_number(query, "ms");
    else if (strcmp(target, "/bytes") == 0) c->route = R_BYTES, n = query_number(query, "n");
    else {
        respond(c, 404, "Not Found", "not found\n");
        goto body;
    }
    if (!get) goto not_allowed;
    if (n < 0 || (c->route == R_SLOW && n > MAX_SLOW_MS)) {
        respond(c, 400, "Bad Request", "bad query\n");
        goto body;
    }
    c->arg = (uint64_t)n;
    /* A body on GET is read and dropped before answering. */
    c->left = (uint64_t)length;
    c->mode = M_DISCARD;
    return 1;
not_allowed:
    respond(c, 405, "Method Not Allowed", "method not allowed\n");
body:
    /* The answer is queued; the body still has to be skipped to find the next request. */
    c->close_after |= length > 0;
    return 1;
}

/* Advances c's state machine by one step. Returns 1 to be called again, 0 to wait for an
 * event, -1 when c is closed. */
static int step(struct conn *c) {
    size_t k;
    switch (c->mode) {
    case M_IDLE:
        if (c->inlen == 0 && c->peer_eof) return conn_close(c, "eof"), -1;
        if (c->inlen == 0) return 0;
        if (parse_request(c)) return 1;
        if (c->peer_eof) return conn_close(c, "eof in request"), -1;
        return 0;
    case M_DISCARD:
    case M_ECHO:
        k = c->inlen < c->left ? c->inlen : (size_t)c->left;
        if (c->mode == M_ECHO && pending(c) >= HIGHWATER) return 0;
        if (c->mode == M_ECHO) out_append(c, c->in, k);
        memmove(c->in, c->in + k, c->inlen - k);
        c->inlen -= k;
        c->left -= k;
        if (c->left == 0) {
            if (c->mode == M_DISCARD) dispatch(c);
            else c->mode = M_FIXED;
            return 1;
        }
        if (c->peer_eof) return conn_close(c, "eof in body"), -1;
        return k > 0;
    case M_SLOW: return 0;
    case M_BYTES:
        if (c->left == 0) return c->mode = M_FIXED, 1;
        if (pending(c) >= CHUNK) return 0;
        {
            char chunk[CHUNK];
            k = c->left < CHUNK ? (size_t)c->left : CHUNK;
            pattern(chunk, c->pos, k);
            out_append(c, chunk, k);
            c->pos += k;
            c->left -= k;
        }
        return 1;
    case M_FIXED:
        if (pending(c)) return 0;
        if (c->linger) {
            shutdown(c->fd, SHUT_WR);
            c->mode = M_LINGER;
            timer_arm(c, LINGER_MS, 0);
            return 1;
        }
        if (c->close_after) return conn_close(c, "done"), -1;
        c->mode = M_IDLE;
        /* Draining: an idle connection gets a short grace for its next request (see drain()). */
        if (draining && c->inlen == 0) timer_arm(c, DRAIN_IDLE_MS, 0);
        return 1;
    case M_HOLD:
    case M_LINGER:
        c->inlen = 0; /* nothing is expected from the client but its close */
        if (c->peer_eof) return conn_close(c, c->mode == M_HOLD ? "hold ended" : "done"), -1;
        return 0;
    case M_RAW:
        if (c->inlen && reset_mode) {
            /* A zero linger turns close() into a reset (RST) instead of a FIN. */
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            return conn_close(c, "reset"), -1;
        }
        if (c->inlen && pending(c) < HIGHWATER) {
            out_append(c, c->in, c->inlen);
            c->inlen = 0;
            return 1;
        }
        if (c->peer_eof && c->inlen == 0 && pending(c) == 0) {
            /* Half-close answered in kind: everything echoed, then our FIN. */
            shutdown(c->fd, SHUT_WR);
            return conn_close(c, "eof"), -1;
        }
        return 0;
    }
    return 0;
}

static int flush(struct conn *c) {
    while (pending(c)) {
        ssize_t n = send(c->fd, c->out + c->outoff, pending(c), MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
        c->outoff += (size_t)n;
    }
    return 0;
}

static void progress(struct conn *c) {
    for (;;) {
        int r = flush(c) < 0 ? -2 : step(c);
        if (r == -2 || (r == 0 && flush(c) < 0)) {
            conn_close(c, strerror(errno));
            return;
        }
        if (r < 0) return;
        if (r == 0) break;
    }
    uint32_t ev = 0;
    if (!c->peer_eof && c->inlen < INBUF && pending(c) < HIGHWATER) ev |= EPOLLIN;
    if (pending(c)) ev |= EPOLLOUT;
    if (ev != c->events) {
        struct epoll_event e = {.events = ev, .data.fd = c->fd};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
        c->events = ev;
    }
}

static void on_readable(struct conn *c) {
    /* Also called for EPOLLHUP/EPOLLERR, which come even while reading is paused. */
    if (!c->peer_eof && c->inlen < INBUF) {
        ssize_t n = read(c->fd, c->in + c->inlen, INBUF - c->inlen);
        if (n > 0) c->inlen += (size_t)n;
        else if (n == 0) c->peer_eof = 1;
        else if (errno != EAGAIN && errno != EINTR) {
            conn_close(c, strerror(errno));
            return;
        }
    }
    progress(c);
}

static void on_timer(struct conn *c) {
    uint64_t expirations;
    if (read(c->tfd, &expirations, sizeof expirations) != sizeof expirations) return;
    char line[96];
    switch (c->mode) {
    case M_SLOW:
        snprintf(line, sizeof line, "%s slow %llu\n", version, (unsigned long long)c->arg);
        respond(c, 200, "OK", line);
        break;
    case M_HOLD:
        snprintf(line, sizeof line, "%s %u\n", version, ++c->ticks);
        out_append(c, line, strlen(line));
        break;
    case M_IDLE:
        if (draining && c->inlen == 0) {
            conn_close(c, "idle at shutdown");
            return;
        }
        break;
    case M_LINGER:
        conn_close(c, "done, client still sending");
        return;
    default: break;
    }
    progress(c);
}

static void on_accept(int lfd) {
    for (int i = 0; i < 64; i++) {
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        int fd = accept4(lfd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != ECONNABORTED) logf_("accept: %s", strerror(errno));
            return;
        }
        struct conn *c = calloc(1, sizeof *c);
        if (!c) die("%s", "out of memory");
        c->fd = fd;
        c->tfd = -1;
        c->mode = lfd == echo_fd ? M_RAW : M_IDLE;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char addr[INET6_ADDRSTRLEN] = "?";
        if (sa.sin_family == AF_INET) inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof addr);
        snprintf(c->peer, sizeof c->peer, "%s:%u", addr, ntohs(sa.sin_port));
        track(fd, c);
        c->events = EPOLLIN;
        watch(fd, EPOLLIN);
        nconns++;
        logf_("conn %d open %s%s", fd, c->peer, c->mode == M_RAW ? " echo" : "");
    }
}

/* SIGTERM: stop accepting and let the connections end. Requests in flight finish; a
 * connection that becomes idle gets DRAIN_IDLE_MS for one more request (answered with
 * "Connection: close") before it is closed, because closing a keep-alive connection at once
 * races with a request the client is sending right now, which the client would see fail. */
static void drain(void) {
    draining = 1;
    logf_("SIGTERM: draining %d connection(s)", nconns);
    if (http_fd >= 0) close(http_fd);
    if (echo_fd >= 0) close(echo_fd);
    http_fd = echo_fd = -1;
    if (nconns == 0) exit(0);
    for (size_t fd = 0; fd < byfd_cap; fd++) {
        struct conn *c = byfd[fd];
        if (c && c->fd == (int)fd && c->mode == M_IDLE && c->inlen == 0) timer_arm(c, DRAIN_IDLE_MS, 0);
    }
}

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    if (fd < 0) die("socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0) die("cannot listen on port %s", p);
    return fd;
}

/* systemd's convention: LISTEN_FDS=1 and LISTEN_PID=<our pid> hand us a listener as fd 3. */
static int activated_socket(void) {
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
    if (!fds || !pid || strcmp(fds, "1") != 0 || atol(pid) != (long)getpid()) return -1;
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDNAMES");
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
        die("%s", "LISTEN_FDS=1 but fd 3 is not a listening socket");
    fcntl(3, F_SETFL, fcntl(3, F_GETFL) | O_NONBLOCK);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    return 3;
}

static int port_arg(const char *s) {
    char *e;
    long v = strtol(s, &e, 10);
    if (*e || v < 1 || v > 65535) die("bad port %s", s);
    return (int)v;
}

static char *read_version(void) {
    static char buf[64];
    FILE *f = fopen("/srv/version", "r");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r')) buf[--n] = 0;
    return buf;
}

static void no_handler(int signo) { (void)signo; }

int main(int argc, char **argv) {
    int port = 0, echo_port = 0, opt;
    while ((opt = getopt(argc, argv, "p:e:v:rqh")) != -1) {
        switch (opt) {
        case 'p': port = port_arg(optarg); break;
        case 'e': echo_port = port_arg(optarg); break;
        case 'v': version = optarg; break;
        case 'r': reset_mode = 1; break;
        case 'q': quiet = 1; break;
        default:
            fprintf(stderr, "usage: webapp [-p PORT] [-e ECHO_PORT [-r]] [-v VERSION] [-q]\n"
                            "  serves HTTP on PORT, or on fd 3 under socket activation (LISTEN_FDS=1)\n");
            return 2;
        }
    }
    if (optind < argc) die("unexpected argument %s", argv[optind]);
    if (!version) version = read_version();
    if (!version || !*version || strlen(version) > 48) die("%s", "no version: give -v NAME or write /srv/version");

    /* The handlers do nothing (signalfd reads the signals), but installing them matters when we
     * are pid 1 of a pid namespace: there, signals left at SIG_DFL are dropped. */
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sa.sa_handler = no_handler;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (epfd < 0 || sigfd < 0) die("setup: %s", strerror(errno));
    watch(sigfd, EPOLLIN);

    http_fd = activated_socket();
    if (http_fd >= 0) logf_("webapp %s: serving HTTP on the activated socket (fd 3)", version);
    else if (port) {
        http_fd = listen_on(port);
        logf_("webapp %s: serving HTTP on port %d", version, port);
    } else if (!echo_port) die("%s", "nothing to serve: give -p PORT or -e PORT, or activate with LISTEN_FDS");
    if (echo_port) {
        echo_fd = listen_on(echo_port);
        logf_("webapp %s: echo on port %d%s", version, echo_port, reset_mode ? " (resetting)" : "");
    }
    if (http_fd >= 0) watch(http_fd, EPOLLIN);
    if (echo_fd >= 0) watch(echo_fd, EPOLLIN);

    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(epfd, evs, 64, -1);
        if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == sigfd) {
                struct signalfd_siginfo si;
                while (read(sigfd, &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGTERM && !draining) drain();
                    else {
                        logf_("signal %d: exiting at once", (int)si.ssi_signo);
                        _exit(128 + (int)si.ssi_signo);
                    }
                }
                continue;
            }
            if (fd == http_fd || fd == echo_fd) {
                on_accept(fd);
                continue;
            }
            struct conn *c = (size_t)fd < byfd_cap ? byfd[fd] : NULL;
            if (!c) continue; /* closed earlier in this batch */
            if (fd == c->tfd) on_timer(c);
            else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
            else progress(c);
        }
    }
}
