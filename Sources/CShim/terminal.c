// Terminal helpers for ctr's -t and -i: receiving a pty master and reading a window size.
#include "CShim.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>

int berth_receive_fd(int socket) {
    char payload[256];
    int fd;
    long got = berth_receive_packet(socket, payload, sizeof(payload), &fd);
    if (got < 0) return -1;
    if (fd < 0) {
        errno = got == 0 ? EPIPE : EBADMSG;
        return -1;
    }
    return fd;
}

int berth_get_window_size(int fd, unsigned short *rows, unsigned short *columns) {
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) != 0) return -1;
    *rows = size.ws_row;
    *columns = size.ws_col;
    return 0;
}
