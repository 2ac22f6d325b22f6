#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/videodev2.h>
#include <libv4l2.h>

/* v4l2_open and v4l2_ioctl are variadic; Swift cannot call them directly. */
static inline int clipcam_v4l2_open(const char *path, int flags) { return v4l2_open(path, flags); }
static inline int clipcam_v4l2_ioctl(int fd, unsigned long request, void *arg) { return v4l2_ioctl(fd, request, arg); }
