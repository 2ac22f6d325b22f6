/*
 * A simulated V4L2 camera that stands in for libv4l2 when preloaded (LD_PRELOAD=libfakev4l2.so).
 *
 * It defines the libv4l2 entry points clipcam uses (v4l2_open, v4l2_close, v4l2_ioctl, v4l2_mmap, v4l2_munmap,
 * plus v4l2_read/v4l2_dup that report ENOTTY/ENOSYS) and answers the ioctls of the streaming capture path the
 * way a driver behind libv4l2 would: QUERYCAP, ENUM_FMT, G_FMT/S_FMT (nearest offered size), G_PARM/S_PARM
 * (nearest offered rate), REQBUFS/QUERYBUF/QBUF/DQBUF/STREAMON/STREAMOFF with memory-mapped buffers.
 *
 * The descriptor handed out is a real timerfd that expires once per frame interval while streaming, so poll()
 * and select() on it work without being interposed. DQBUF on a non-blocking descriptor returns EAGAIN when no
 * frame is due. Buffers live in a memfd, so the caller's v4l2_mmap sees the pages the fake writes.
 *
 * Every frame carries its counter: the first 8 bytes of the first row hold it little-endian, and the rest of
 * the image is a pattern that depends on it (see fake_pixel below), so the receiver can verify each frame.
 *
 * Configuration (environment variables, read at the first call):
 *   FAKE_V4L2_DEVICE        path of the simulated device (default /dev/video0); any other path gives ENOENT
 *   FAKE_V4L2_CARD          card name reported by QUERYCAP (default "Fake Camera")
 *   FAKE_V4L2_FORMATS       comma-separated fourccs offered, first is the fallback (default BGR3)
 *   FAKE_V4L2_SIZES         comma-separated WxH sizes offered (default 640x480,320x240,160x120)
 *   FAKE_V4L2_FPS           comma-separated frame rates offered, first is the default (default 30,15)
 *   FAKE_V4L2_NO_TIMEPERFRAME=1  the driver cannot change its frame rate (S_PARM keeps the default)
 *   FAKE_V4L2_PAD           extra bytes at the end of each row (bytesperline > width * 3); default 0
 *   FAKE_V4L2_MAX_BUFFERS   most buffers REQBUFS grants (default 4)
 *   FAKE_V4L2_BUSY=1        open fails with EBUSY
 *   FAKE_V4L2_NOT_CAPTURE=1 QUERYCAP reports a video output device
 *   FAKE_V4L2_NO_STREAMING=1 QUERYCAP reports read()-only I/O
 *   FAKE_V4L2_EAGAIN_EVERY=k every k-th DQBUF returns EAGAIN although a frame is due (spurious wake-up)
 *   FAKE_V4L2_UNPLUG_AFTER=n after n frames the device disappears: DQBUF/QBUF fail with ENODEV, open with ENOENT
 *   FAKE_V4L2_REPLUG_MS=t   the device comes back t milliseconds after it disappeared
 *   FAKE_V4L2_LOG=path      append one line per notable call (open, close, ioctl names, mmap, munmap, EAGAIN)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <linux/videodev2.h>

#define FAKE_MAX_LIST 16
#define FAKE_MAX_BUFFERS 16

struct fake_size { uint32_t width, height; };

static struct {
    int configured;
    char device[256];
    char card[32];
    uint32_t formats[FAKE_MAX_LIST];
    int format_count;
    struct fake_size sizes[FAKE_MAX_LIST];
    int size_count;
    uint32_t rates[FAKE_MAX_LIST];
    int rate_count;
    int no_timeperframe;
    uint32_t pad;
    uint32_t max_buffers;
    int busy, not_capture, no_streaming;
    long eagain_every;
    long unplug_after;
    long replug_ms;
    FILE *log;
} config;

static struct {
    int fd;                       /* the timerfd handed out, -1 when closed */
    int nonblocking;
    struct v4l2_pix_format pix;   /* current format */
    uint32_t rate;                /* frames per second */
    int memfd;
    uint8_t *memory;              /* the fake's own mapping of every buffer */
    size_t buffer_stride;         /* page-aligned distance between buffers */
    uint32_t buffer_count;
    int queued[FAKE_MAX_BUFFERS]; /* FIFO of queued buffer indices */
    int queued_count;
    int streaming;
    uint32_t sequence;            /* frames delivered in this stream */
    long dqbuf_calls;
} dev = { .fd = -1, .memfd = -1 };

static uint64_t frames_delivered;  /* over the life of the process: the counter drawn into frames */
static int unplugged;
static struct timespec unplugged_at;

static void fake_log(const char *format, ...) {
    if (!config.log) return;
    va_list args;
    va_start(args, format);
    vfprintf(config.log, format, args);
    va_end(args);
    fputc('\n', config.log);
    fflush(config.log);
}

static long env_long(const char *name, long fallback) {
    const char *value = getenv(name);
    return value && *value ? strtol(value, NULL, 10) : fallback;
}

static uint32_t parse_fourcc(const char *text, size_t length) {
    char code[4] = { ' ', ' ', ' ', ' ' };
    for (size_t i = 0; i < length && i < 4; i++) code[i] = text[i];
    return v4l2_fourcc(code[0], code[1], code[2], code[3]);
}

static void configure(void) {
    if (config.configured) return;
    config.configured = 1;
    const char *value = getenv("FAKE_V4L2_DEVICE");
    snprintf(config.device, sizeof config.device, "%s", value && *value ? value : "/dev/video0");
    value = getenv("FAKE_V4L2_CARD");
    snprintf(config.card, sizeof config.card, "%s", value && *value ? value : "Fake Camera");

    value = getenv("FAKE_V4L2_FORMATS");
    if (!value || !*value) value = "BGR3";
    for (const char *p = value; *p && config.format_count < FAKE_MAX_LIST;) {
        size_t length = strcspn(p, ",");
        config.formats[config.format_count++] = parse_fourcc(p, length);
        p += length + (p[length] == ',');
    }

    value = getenv("FAKE_V4L2_SIZES");
    if (!value || !*value) value = "640x480,320x240,160x120";
    for (const char *p = value; *p && config.size_count < FAKE_MAX_LIST;) {
        unsigned width = 0, height = 0;
        if (sscanf(p, "%ux%u", &width, &height) == 2 && width > 0 && height > 0)
            config.sizes[config.size_count++] = (struct fake_size){ width, height };
        size_t length = strcspn(p, ",");
        p += length + (p[length] == ',');
    }

    value = getenv("FAKE_V4L2_FPS");
    if (!value || !*value) value = "30,15";
    for (const char *p = value; *p && config.rate_count < FAKE_MAX_LIST;) {
        long rate = strtol(p, NULL, 10);
        if (rate > 0) config.rates[config.rate_count++] = (uint32_t)rate;
        size_t length = strcspn(p, ",");
        p += length + (p[length] == ',');
    }

    config.no_timeperframe = env_long("FAKE_V4L2_NO_TIMEPERFRAME", 0) != 0;
    config.pad = (uint32_t)env_long("FAKE_V4L2_PAD", 0);
    config.max_buffers = (uint32_t)env_long("FAKE_V4L2_MAX_BUFFERS", 4);
    if (config.max_buffers < 1) config.max_buffers = 1;
    if (config.max_buffers > FAKE_MAX_BUFFERS) config.max_buffers = FAKE_MAX_BUFFERS;
    config.busy = env_long("FAKE_V4L2_BUSY", 0) != 0;
    config.not_capture = env_long("FAKE_V4L2_NOT_CAPTURE", 0) != 0;
    config.no_streaming = env_long("FAKE_V4L2_NO_STREAMING", 0) != 0;
    config.eagain_every = env_long("FAKE_V4L2_EAGAIN_EVERY", 0);
    config.unplug_after = env_long("FAKE_V4L2_UNPLUG_AFTER", -1);
    config.replug_ms = env_long("FAKE_V4L2_REPLUG_MS", -1);
    value = getenv("FAKE_V4L2_LOG");
    if (value && *value) config.log = fopen(value, "a");
}

static uint32_t bytes_per_pixel(uint32_t fourcc) {
    switch (fourcc) {
    case V4L2_PIX_FMT_BGR24: case V4L2_PIX_FMT_RGB24: return 3;
    case V4L2_PIX_FMT_YUYV: case V4L2_PIX_FMT_UYVY: case V4L2_PIX_FMT_RGB565: return 2;
    case V4L2_PIX_FMT_GREY: return 1;
    default: return 3;
    }
}

static int format_offered(uint32_t fourcc) {
    for (int i = 0; i < config.format_count; i++)
        if (config.formats[i] == fourcc) return 1;
    return 0;
}

/* The offered size closest to the request (smallest sum of width and height differences). */
static struct fake_size nearest_size(uint32_t width, uint32_t height) {
    struct fake_size best = config.sizes[0];
    long best_distance = -1;
    for (int i = 0; i < config.size_count; i++) {
        long distance = labs((long)config.sizes[i].width - (long)width) +
                        labs((long)config.sizes[i].height - (long)height);
        if (best_distance < 0 || distance < best_distance) {
            best = config.sizes[i];
            best_distance = distance;
        }
    }
    return best;
}

static uint32_t nearest_rate(double fps) {
    uint32_t best = config.rates[0];
    double best_distance = -1;
    for (int i = 0; i < config.rate_count; i++) {
        double distance = config.rates[i] > fps ? config.rates[i] - fps : fps - config.rates[i];
        if (best_distance < 0 || distance < best_distance) {
            best = config.rates[i];
            best_distance = distance;
        }
    }
    return best;
}

static void set_format(uint32_t fourcc, uint32_t width, uint32_t height) {
    struct fake_size size = nearest_size(width, height);
    memset(&dev.pix, 0, sizeof dev.pix);
    dev.pix.width = size.width;
    dev.pix.height = size.height;
    dev.pix.pixelformat = format_offered(fourcc) ? fourcc : config.formats[0];
    dev.pix.field = V4L2_FIELD_NONE;
    dev.pix.bytesperline = size.width * bytes_per_pixel(dev.pix.pixelformat) + config.pad;
    dev.pix.sizeimage = dev.pix.bytesperline * size.height;
    dev.pix.colorspace = V4L2_COLORSPACE_SRGB;
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void check_replug(void) {
    if (unplugged && config.replug_ms >= 0 && seconds_since(&unplugged_at) * 1000.0 >= (double)config.replug_ms) {
        unplugged = 0;
        config.unplug_after = -1;
        fake_log("replug");
    }
}

static void arm_timer(int on) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    if (on) {
        long interval_ns = 1000000000L / (long)dev.rate;
        spec.it_interval.tv_sec = interval_ns / 1000000000L;
        spec.it_interval.tv_nsec = interval_ns % 1000000000L;
        spec.it_value = spec.it_interval;
    }
    timerfd_settime(dev.fd, 0, &spec, NULL);
}

static void free_buffers(void) {
    if (dev.memory) munmap(dev.memory, dev.buffer_stride * dev.buffer_count);
    if (dev.memfd >= 0) close(dev.memfd);
    dev.memory = NULL;
    dev.memfd = -1;
    dev.buffer_count = 0;
    dev.queued_count = 0;
}

/* Pixel (x, y) of frame `counter`, blue, green, red. Mirrored by the clipcam tests. */
static void fake_pixel(uint64_t counter, uint32_t x, uint32_t y, uint8_t out[3]) {
    out[0] = (uint8_t)(x + counter);
    out[1] = (uint8_t)(y + 2 * counter);
    out[2] = (uint8_t)((x ^ y) + ((x / 16 == counter % 40) ? 128 : 0));
}

static void draw_frame(uint8_t *base, uint64_t counter) {
    uint32_t bpp = bytes_per_pixel(dev.pix.pixelformat);
    for (uint32_t y = 0; y < dev.pix.height; y++) {
        uint8_t *row = base + (size_t)y * dev.pix.bytesperline;
        for (uint32_t x = 0; x < dev.pix.width; x++) {
            uint8_t pixel[3];
            fake_pixel(counter, x, y, pixel);
            memcpy(row + (size_t)x * bpp, pixel, bpp);
        }
        memset(row + (size_t)dev.pix.width * bpp, 0xEE, dev.pix.bytesperline - dev.pix.width * bpp);
    }
    for (int i = 0; i < 8 && (uint32_t)i < dev.pix.width * bpp; i++) base[i] = (uint8_t)(counter >> (8 * i));
}

static int fail(int error) {
    errno = error;
    return -1;
}

static void fill_buffer(struct v4l2_buffer *buffer, uint32_t index) {
    uint32_t type = buffer->type;
    memset(buffer, 0, sizeof *buffer);
    buffer->type = type;
    buffer->index = index;
    buffer->memory = V4L2_MEMORY_MMAP;
    buffer->length = dev.pix.sizeimage;
    buffer->m.offset = (uint32_t)(index * dev.buffer_stride);
    buffer->field = V4L2_FIELD_NONE;
    for (int i = 0; i < dev.queued_count; i++)
        if (dev.queued[i] == (int)index) buffer->flags |= V4L2_BUF_FLAG_QUEUED;
    buffer->flags |= V4L2_BUF_FLAG_MAPPED | V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
}

static int do_dqbuf(struct v4l2_buffer *buffer) {
    if (buffer->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || buffer->memory != V4L2_MEMORY_MMAP) return fail(EINVAL);
    if (unplugged) return fail(ENODEV);
    if (!dev.streaming) return fail(EINVAL);
    dev.dqbuf_calls++;
    if (config.eagain_every > 0 && dev.dqbuf_calls % config.eagain_every == 0) {
        fake_log("EAGAIN spurious");
        return fail(EAGAIN);
    }
    uint64_t expirations = 0;
    for (;;) {
        ssize_t got = read(dev.fd, &expirations, sizeof expirations);
        if (got == (ssize_t)sizeof expirations) break;
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && errno == EAGAIN) {
            if (dev.nonblocking) return fail(EAGAIN);
            struct pollfd waiter = { .fd = dev.fd, .events = POLLIN };
            poll(&waiter, 1, -1);
            continue;
        }
        return fail(EIO);
    }
    if (config.unplug_after >= 0 && frames_delivered >= (uint64_t)config.unplug_after) {
        unplugged = 1;
        clock_gettime(CLOCK_MONOTONIC, &unplugged_at);
        fake_log("unplug");
        return fail(ENODEV);
    }
    if (dev.queued_count == 0) return fail(EAGAIN);
    uint32_t index = (uint32_t)dev.queued[0];
    memmove(dev.queued, dev.queued + 1, (size_t)(dev.queued_count - 1) * sizeof dev.queued[0]);
    dev.queued_count--;
    draw_frame(dev.memory + index * dev.buffer_stride, frames_delivered);
    fill_buffer(buffer, index);
    buffer->bytesused = dev.pix.sizeimage;
    buffer->sequence = dev.sequence++;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    buffer->timestamp.tv_sec = now.tv_sec;
    buffer->timestamp.tv_usec = now.tv_nsec / 1000;
    buffer->flags |= V4L2_BUF_FLAG_DONE;
    frames_delivered++;
    return 0;
}

static const char *ioctl_name(unsigned long request) {
    switch (request) {
    case VIDIOC_QUERYCAP: return "QUERYCAP";
    case VIDIOC_ENUM_FMT: return "ENUM_FMT";
    case VIDIOC_G_FMT: return "G_FMT";
    case VIDIOC_S_FMT: return "S_FMT";
    case VIDIOC_TRY_FMT: return "TRY_FMT";
    case VIDIOC_G_PARM: return "G_PARM";
    case VIDIOC_S_PARM: return "S_PARM";
    case VIDIOC_REQBUFS: return "REQBUFS";
    case VIDIOC_QUERYBUF: return "QUERYBUF";
    case VIDIOC_QBUF: return "QBUF";
    case VIDIOC_DQBUF: return "DQBUF";
    case VIDIOC_STREAMON: return "STREAMON";
    case VIDIOC_STREAMOFF: return "STREAMOFF";
    default: return "unknown";
    }
}

int v4l2_open(const char *file, int oflag, ...) {
    configure();
    check_replug();
    fake_log("open %s", file);
    if (strcmp(file, config.device) != 0 || unplugged) return fail(ENOENT);
    if (config.busy || dev.fd >= 0) return fail(EBUSY);
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) return -1;
    dev.fd = fd;
    dev.nonblocking = (oflag & O_NONBLOCK) != 0;
    dev.rate = config.rates[0];
    dev.streaming = 0;
    dev.sequence = 0;
    dev.dqbuf_calls = 0;
    set_format(config.formats[0], config.sizes[0].width, config.sizes[0].height);
    return fd;
}

int v4l2_close(int fd) {
    configure();
    if (fd != dev.fd || fd < 0) return close(fd);
    fake_log("close");
    free_buffers();
    dev.streaming = 0;
    dev.fd = -1;
    return close(fd);
}

int v4l2_dup(int fd) {
    (void)fd;
    return fail(ENOSYS);
}

ssize_t v4l2_read(int fd, void *buffer, size_t n) {
    (void)fd; (void)buffer; (void)n;
    return fail(EINVAL);
}

void *v4l2_mmap(void *start, size_t length, int prot, int flags, int fd, int64_t offset) {
    configure();
    if (fd != dev.fd || fd < 0) return mmap(start, length, prot, flags, fd, (off_t)offset);
    if (dev.memfd < 0 || offset < 0 || (size_t)offset + length > dev.buffer_stride * dev.buffer_count) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    void *mapping = mmap(start, length, prot, flags, dev.memfd, (off_t)offset);
    if (mapping != MAP_FAILED) fake_log("mmap %lld", (long long)offset);
    return mapping;
}

int v4l2_munmap(void *start, size_t length) {
    configure();
    fake_log("munmap");
    return munmap(start, length);
}

int v4l2_ioctl(int fd, unsigned long int request, ...) {
    configure();
    va_list args;
    va_start(args, request);
    void *arg = va_arg(args, void *);
    va_end(args);
    if (fd != dev.fd || fd < 0) return fail(EBADF);
    if (request != VIDIOC_DQBUF && request != VIDIOC_QBUF) fake_log("ioctl %s", ioctl_name(request));

    switch (request) {
    case VIDIOC_QUERYCAP: {
        struct v4l2_capability *cap = arg;
        memset(cap, 0, sizeof *cap);
        snprintf((char *)cap->driver, sizeof cap->driver, "fakev4l2");
        snprintf((char *)cap->card, sizeof cap->card, "%s", config.card);
        snprintf((char *)cap->bus_info, sizeof cap->bus_info, "platform:fake");
        cap->version = 0x060100;
        uint32_t caps = config.not_capture ? V4L2_CAP_VIDEO_OUTPUT : V4L2_CAP_VIDEO_CAPTURE;
        caps |= config.no_streaming ? V4L2_CAP_READWRITE : V4L2_CAP_STREAMING;
        cap->device_caps = caps;
        cap->capabilities = caps | V4L2_CAP_DEVICE_CAPS;
        return 0;
    }
    case VIDIOC_ENUM_FMT: {
        struct v4l2_fmtdesc *desc = arg;
        if (desc->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || desc->index >= (uint32_t)config.format_count)
            return fail(EINVAL);
        uint32_t index = desc->index, type = desc->type;
        memset(desc, 0, sizeof *desc);
        desc->index = index;
        desc->type = type;
        desc->pixelformat = config.formats[index];
        uint32_t f = desc->pixelformat;
        snprintf((char *)desc->description, sizeof desc->description, "%c%c%c%c", f & 255, (f >> 8) & 255,
                 (f >> 16) & 255, (f >> 24) & 255);
        return 0;
    }
    case VIDIOC_G_FMT: {
        struct v4l2_format *format = arg;
        if (format->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return fail(EINVAL);
        format->fmt.pix = dev.pix;
        return 0;
    }
    case VIDIOC_S_FMT:
    case VIDIOC_TRY_FMT: {
        struct v4l2_format *format = arg;
        if (format->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return fail(EINVAL);
        if (request == VIDIOC_S_FMT && dev.buffer_count > 0) return fail(EBUSY);
        struct v4l2_pix_format saved = dev.pix;
        set_format(format->fmt.pix.pixelformat, format->fmt.pix.width, format->fmt.pix.height);
        format->fmt.pix = dev.pix;
        if (request == VIDIOC_TRY_FMT) dev.pix = saved;
        return 0;
    }
    case VIDIOC_G_PARM:
    case VIDIOC_S_PARM: {
        struct v4l2_streamparm *parm = arg;
        if (parm->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return fail(EINVAL);
        if (request == VIDIOC_S_PARM && !config.no_timeperframe) {
            struct v4l2_fract asked = parm->parm.capture.timeperframe;
            if (asked.numerator > 0 && asked.denominator > 0)
                dev.rate = nearest_rate((double)asked.denominator / (double)asked.numerator);
            if (dev.streaming) arm_timer(1);
        }
        memset(&parm->parm, 0, sizeof parm->parm);
        parm->parm.capture.capability = config.no_timeperframe ? 0 : V4L2_CAP_TIMEPERFRAME;
        parm->parm.capture.timeperframe.numerator = 1;
        parm->parm.capture.timeperframe.denominator = dev.rate;
        parm->parm.capture.readbuffers = 0;
        return 0;
    }
    case VIDIOC_REQBUFS: {
        struct v4l2_requestbuffers *request_buffers = arg;
        if (request_buffers->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || request_buffers->memory != V4L2_MEMORY_MMAP)
            return fail(EINVAL);
        if (dev.streaming) return fail(EBUSY);
        free_buffers();
        if (request_buffers->count == 0) return 0;
        uint32_t count = request_buffers->count;
        if (count > config.max_buffers) count = config.max_buffers;
        long page = sysconf(_SC_PAGESIZE);
        dev.buffer_stride = ((size_t)dev.pix.sizeimage + (size_t)page - 1) / (size_t)page * (size_t)page;
        dev.memfd = memfd_create("fakev4l2", MFD_CLOEXEC);
        if (dev.memfd < 0 || ftruncate(dev.memfd, (off_t)(dev.buffer_stride * count)) != 0) {
            free_buffers();
            return fail(ENOMEM);
        }
        dev.memory = mmap(NULL, dev.buffer_stride * count, PROT_READ | PROT_WRITE, MAP_SHARED, dev.memfd, 0);
        if (dev.memory == MAP_FAILED) {
            dev.memory = NULL;
            free_buffers();
            return fail(ENOMEM);
        }
        dev.buffer_count = count;
        request_buffers->count = count;
        return 0;
    }
    case VIDIOC_QUERYBUF: {
        struct v4l2_buffer *buffer = arg;
        if (buffer->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || buffer->index >= dev.buffer_count) return fail(EINVAL);
        fill_buffer(buffer, buffer->index);
        return 0;
    }
    case VIDIOC_QBUF: {
        struct v4l2_buffer *buffer = arg;
        if (unplugged) return fail(ENODEV);
        if (buffer->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || buffer->memory != V4L2_MEMORY_MMAP ||
            buffer->index >= dev.buffer_count)
            return fail(EINVAL);
        for (int i = 0; i < dev.queued_count; i++)
            if (dev.queued[i] == (int)buffer->index) return fail(EINVAL);
        dev.queued[dev.queued_count++] = (int)buffer->index;
        fill_buffer(buffer, buffer->index);
        return 0;
    }
    case VIDIOC_DQBUF:
        return do_dqbuf(arg);
    case VIDIOC_STREAMON: {
        if (*(int *)arg != V4L2_BUF_TYPE_VIDEO_CAPTURE || dev.buffer_count == 0) return fail(EINVAL);
        if (unplugged) return fail(ENODEV);
        dev.streaming = 1;
        dev.sequence = 0;
        arm_timer(1);
        return 0;
    }
    case VIDIOC_STREAMOFF: {
        if (*(int *)arg != V4L2_BUF_TYPE_VIDEO_CAPTURE) return fail(EINVAL);
        dev.streaming = 0;
        dev.queued_count = 0;
        arm_timer(0);
        if (unplugged) return fail(ENODEV);
        return 0;
    }
    default:
        return fail(ENOTTY);
    }
}
