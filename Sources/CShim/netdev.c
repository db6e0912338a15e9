#define _GNU_SOURCE
#include "CShim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// rtnetlink for linux.netDevices: one request at a time on a blocking socket, each answered by
// an acknowledgement (or, for a dump, by messages up to NLMSG_DONE).

struct request {
    struct nlmsghdr header;
    union {
        struct ifinfomsg link;
        struct ifaddrmsg address;
    };
    char attributes[256];
};

static void *add_attribute(struct request *request, unsigned short type, const void *data, size_t length) {
    struct rtattr *attribute = (struct rtattr *)((char *)request + NLMSG_ALIGN(request->header.nlmsg_len));
    attribute->rta_type = type;
    attribute->rta_len = RTA_LENGTH(length);
    memcpy(RTA_DATA(attribute), data, length);
    request->header.nlmsg_len = NLMSG_ALIGN(request->header.nlmsg_len) + RTA_ALIGN(attribute->rta_len);
    return attribute;
}

static void start(struct request *request, unsigned short type, unsigned short flags, size_t body) {
    memset(request, 0, sizeof(*request));
    request->header.nlmsg_len = NLMSG_LENGTH(body);
    request->header.nlmsg_type = type;
    request->header.nlmsg_flags = NLM_F_REQUEST | flags;
}

/// One recv(2) of netlink messages, retried on EINTR.
static ssize_t receive(int fd, char *buffer, size_t size) {
    ssize_t length;
    do length = recv(fd, buffer, size, 0);
    while (length < 0 && errno == EINTR);
    return length;
}

/// Sends `request` and reads until its acknowledgement: 0, or -1 with the kernel's errno.
/// With `reply`, the first message of type `reply_type` is copied there first.
static int transact(int fd, struct request *request, void *reply, size_t reply_size, unsigned short reply_type) {
    static unsigned int sequence;
    request->header.nlmsg_seq = ++sequence;
    if (send(fd, request, request->header.nlmsg_len, 0) < 0) return -1;
    char buffer[8192];
    for (;;) {
        ssize_t length = receive(fd, buffer, sizeof(buffer));
        if (length < 0) return -1;
        for (struct nlmsghdr *message = (struct nlmsghdr *)buffer; NLMSG_OK(message, (size_t)length); message = NLMSG_NEXT(message, length)) {
            if (message->nlmsg_seq != request->header.nlmsg_seq) continue;
            if (message->nlmsg_type == NLMSG_ERROR) {
                int error = ((struct nlmsgerr *)NLMSG_DATA(message))->error;
                if (error == 0) return 0;
                errno = -error;
                return -1;
            }
            if (reply && message->nlmsg_type == reply_type && message->nlmsg_len <= reply_size) {
                memcpy(reply, message, message->nlmsg_len);
                reply = NULL;
            }
        }
    }
}

static int set_up(int fd, int index, int up) {
    struct request request;
    start(&request, RTM_NEWLINK, NLM_F_ACK, sizeof(struct ifinfomsg));
    request.link.ifi_family = AF_UNSPEC;
    request.link.ifi_index = index;
    request.link.ifi_flags = up ? IFF_UP : 0;
    request.link.ifi_change = IFF_UP;
    return transact(fd, &request, NULL, 0, 0);
}

struct kept_address {
    unsigned char family, prefix_length;
    unsigned char local[16], address[16];
    int has_local, has_address;
};

/// The permanent addresses of global scope of interface `index`, as the runtime-spec asks to
/// keep: at most `capacity` of them.
static int permanent_addresses(int fd, int index, struct kept_address *kept, int capacity) {
    struct request request;
    start(&request, RTM_GETADDR, NLM_F_DUMP, sizeof(struct ifaddrmsg));
    request.address.ifa_family = AF_UNSPEC;
    static unsigned int sequence = 1u << 30;
    request.header.nlmsg_seq = ++sequence;
    if (send(fd, &request, request.header.nlmsg_len, 0) < 0) return -1;
    int count = 0;
    char buffer[16384];
    for (;;) {
        ssize_t length = receive(fd, buffer, sizeof(buffer));
        if (length < 0) return -1;
        for (struct nlmsghdr *message = (struct nlmsghdr *)buffer; NLMSG_OK(message, (size_t)length); message = NLMSG_NEXT(message, length)) {
            if (message->nlmsg_type == NLMSG_DONE) return count;
            if (message->nlmsg_type == NLMSG_ERROR) {
                errno = -((struct nlmsgerr *)NLMSG_DATA(message))->error;
                return -1;
            }
            if (message->nlmsg_type != RTM_NEWADDR) continue;
            struct ifaddrmsg *address = NLMSG_DATA(message);
            if ((int)address->ifa_index != index || address->ifa_scope != RT_SCOPE_UNIVERSE) continue;
            unsigned int flags = address->ifa_flags;
            struct kept_address entry = {address->ifa_family, address->ifa_prefixlen, {0}, {0}, 0, 0};
            size_t size = address->ifa_family == AF_INET6 ? 16 : 4;
            int rest = IFA_PAYLOAD(message);
            for (struct rtattr *attribute = IFA_RTA(address); RTA_OK(attribute, rest); attribute = RTA_NEXT(attribute, rest)) {
                if (attribute->rta_type == IFA_FLAGS) flags = *(unsigned int *)RTA_DATA(attribute);
                if (attribute->rta_type == IFA_LOCAL && RTA_PAYLOAD(attribute) == size) {
                    memcpy(entry.local, RTA_DATA(attribute), size);
                    entry.has_local = 1;
                }
                if (attribute->rta_type == IFA_ADDRESS && RTA_PAYLOAD(attribute) == size) {
                    memcpy(entry.address, RTA_DATA(attribute), size);
                    entry.has_address = 1;
                }
            }
            if ((flags & IFA_F_PERMANENT) && count < capacity) kept[count++] = entry;
        }
    }
}

static int add_address(int fd, int index, const struct kept_address *kept) {
    struct request request;
    start(&request, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, sizeof(struct ifaddrmsg));
    request.address.ifa_family = kept->family;
    request.address.ifa_prefixlen = kept->prefix_length;
    request.address.ifa_flags = IFA_F_PERMANENT;
    request.address.ifa_scope = RT_SCOPE_UNIVERSE;
    request.address.ifa_index = index;
    size_t size = kept->family == AF_INET6 ? 16 : 4;
    if (kept->has_local) add_attribute(&request, IFA_LOCAL, kept->local, size);
    if (kept->has_address) add_attribute(&request, IFA_ADDRESS, kept->address, size);
    return transact(fd, &request, NULL, 0, 0);
}

/// A route netlink socket in the network namespace `netns_fd`: made there, used from here.
static int socket_in(int netns_fd) {
    int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own < 0) return -1;
    int fd = -1;
    if (setns(netns_fd, CLONE_NEWNET) == 0) {
        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        int saved = errno;
        if (setns(own, CLONE_NEWNET) != 0) {
            // Stranded in the container's namespace: nothing after this may run.
            _exit(125);
        }
        errno = saved;
    }
    close(own);
    return fd;
}

/// The index of interface `name` on the route socket `fd`'s namespace.
static int index_of(int fd, const char *name) {
    struct request request;
    start(&request, RTM_GETLINK, NLM_F_ACK, sizeof(struct ifinfomsg));
    request.link.ifi_family = AF_UNSPEC;
    add_attribute(&request, IFLA_IFNAME, name, strlen(name) + 1);
    char reply[8192];
    memset(reply, 0, sizeof(struct nlmsghdr) + sizeof(struct ifinfomsg));
    if (transact(fd, &request, reply, sizeof(reply), RTM_NEWLINK) != 0) return -1;
    int index = ((struct ifinfomsg *)NLMSG_DATA((struct nlmsghdr *)reply))->ifi_index;
    if (index <= 0) errno = ENODEV;
    return index > 0 ? index : -1;
}

int berth_link_move(const char *name, int netns_fd, const char *new_name, int *stage) {
    *stage = 0;
    int host = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (host < 0) return -1;
    int index = index_of(host, name);
    struct kept_address kept[32];
    int count = index < 0 ? -1 : permanent_addresses(host, index, kept, 32);
    // Down before it leaves, as runc does: nothing on the host keeps using it mid-move.
    if (count < 0 || set_up(host, index, 0) != 0) goto fail_host;
    *stage = 1;
    // Moved and renamed in one request: the new name cannot clash with one on the host.
    struct request request;
    start(&request, RTM_NEWLINK, NLM_F_ACK, sizeof(struct ifinfomsg));
    request.link.ifi_family = AF_UNSPEC;
    request.link.ifi_index = index;
    uint32_t target = (uint32_t)netns_fd;
    add_attribute(&request, IFLA_NET_NS_FD, &target, sizeof(target));
    add_attribute(&request, IFLA_IFNAME, new_name, strlen(new_name) + 1);
    if (transact(host, &request, NULL, 0, 0) != 0) goto fail_host;
    close(host);
    *stage = 2;
    int container = socket_in(netns_fd);
    if (container < 0) return -1;
    int moved = index_of(container, new_name);
    if (moved < 0) goto fail_container;
    for (int i = 0; i < count; i++) {
        if (add_address(container, moved, &kept[i]) != 0) goto fail_container;
    }
    *stage = 3;
    if (set_up(container, moved, 1) != 0) goto fail_container;
    close(container);
    return 0;
fail_container: {
        int saved = errno;
        close(container);
        errno = saved;
        return -1;
    }
fail_host: {
        int saved = errno;
        close(host);
        errno = saved;
        return -1;
    }
}
