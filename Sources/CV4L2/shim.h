#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/videodev2.h>
#include <libv4l2.h>

/* v4l2_open and v4l2_ioctl are variadic; Swift cannot call them directly. */
static inline int clipcam_v4l2_open(const char *path, int flags) { return v4l2_open(path, flags); }
static inline int clipcam_v4l2_ioctl(int fd, unsigned long request, void *arg) { return v4l2_ioctl(fd, request, arg); }

/* The driver's own answer, bypassing libv4l2 (which adds the formats libv4lconvert can emulate and answers G_FMT
   with the converted format): ioctl is variadic too. */
static inline int clipcam_driver_ioctl(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }

/* libv4l2's log stream (stderr when unset): a C global, which Swift 6 will not touch directly. */
static inline FILE *clipcam_v4l2_log_file(void) { return v4l2_log_file; }
static inline void clipcam_set_v4l2_log_file(FILE *file) { v4l2_log_file = file; }
