#define _GNU_SOURCE
#include "CShim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int address_of(const char *text, int port, struct sockaddr_in *address) {
    memset(address, 0, sizeof(*address));
    address->sin_family = AF_INET;
    address->sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, text, &address->sin_addr) != 1) { errno = EINVAL; return -1; }
    return 0;
}

static int fail_closing(int fd) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int berth_tcp_listen(const char *text, int port, int backlog) {
    struct sockaddr_in address;
    if (address_of(text, port, &address) != 0) return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) return fail_closing(fd);
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0) return fail_closing(fd);
    if (listen(fd, backlog) != 0) return fail_closing(fd);
    return fd;
}

int berth_tcp_accept(int listener) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        // As on the upstream side: each forwarded write is a whole chunk the peer sent.
        int on = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
    return fd;
}

int berth_tcp_connect(const char *text, int port) {
    struct sockaddr_in address;
    if (address_of(text, port, &address) != 0) return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    // Small requests and answers are the common case; Nagle would only add latency here,
    // since every write is a whole chunk the other side already sent.
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0 && errno != EINPROGRESS) return fail_closing(fd);
    return fd;
}

int berth_socket_error(int fd) {
    int value = 0;
    socklen_t length = sizeof(value);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) != 0) return -1;
    return value;
}

int berth_socket_reset_on_close(int fd) {
    struct linger linger = { .l_onoff = 1, .l_linger = 0 };
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
}

long berth_splice(int in, int out, unsigned long length) {
    return splice(in, NULL, out, NULL, length, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

int berth_socket_port(int fd) {
    struct sockaddr_in address;
    socklen_t length = sizeof(address);
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) return -1;
    return ntohs(address.sin_port);
}

int berth_interface_up(const char *name) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    if (strlen(name) >= sizeof(request.ifr_name)) { close(fd); errno = ENAMETOOLONG; return -1; }
    strcpy(request.ifr_name, name);
    if (ioctl(fd, SIOCGIFFLAGS, &request) != 0) return fail_closing(fd);
    request.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &request) != 0) return fail_closing(fd);
    close(fd);
    return 0;
}

int berth_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int berth_epoll_add_edge(int epoll, int fd, uint64_t token) {
    struct epoll_event event = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = token };
    return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

int berth_epoll_wait(int epoll, uint64_t *tokens, int capacity) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int ready = epoll_wait(epoll, events, capacity, 0);
    for (int i = 0; i < ready; i++) tokens[i] = events[i].data.u64;
    return ready;
}
