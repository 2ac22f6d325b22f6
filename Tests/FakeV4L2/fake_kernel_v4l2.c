/*
 * A simulated V4L2 kernel driver that sits *below* the real libv4l2 and libv4lconvert when preloaded
 * (LD_PRELOAD=libfakekernelv4l2.so), so that the real library's format emulation and conversion run on its
 * frames: a camera that offers only YUYV or only MJPEG is converted to BGR24 by libv4lconvert, exactly as with
 * a real webcam.
 *
 * Debian's libv4l2 and libv4lconvert reach the kernel through libc's syscall() (`nm -D libv4l2.so.0` lists
 * `syscall` and no `ioctl`), so this library defines syscall() and answers SYS_openat/SYS_open, SYS_close,
 * SYS_ioctl and SYS_mmap for the simulated device nodes, passing every other call to libc. It also defines the
 * libc entry points a program may use on a device directly: open/open64/openat/openat64, close and ioctl (clipcam
 * asks the driver for its own formats with a plain ioctl, bypassing libv4l2's emulated ones), and
 * opendir/readdir/readdir64/closedir so that a listing of /dev shows the simulated nodes (and hides any real
 * video nodes, so that tests behave the same on a machine with a camera). Nothing under the real /dev is
 * touched.
 *
 * Each open descriptor is a real timerfd, so poll() and select() work on it without being interposed: it
 * becomes readable when a filled buffer is waiting (or the device has gone). Frames are produced on the
 * camera's clock, not on demand: at every frame interval the next queued buffer is filled and moved to the
 * done queue; when no buffer is queued the frame is lost (a gap in the sequence numbers), as with a real
 * driver. Buffers live in a memfd, so the pages the caller maps are the ones the fake writes.
 *
 * Frames:
 *   YUYV  row 0 is grey (U = V = 128) with the frame counter's bytes, little-endian, as the luma of pixels 0-7;
 *         every other pixel pair has the chroma of one of eight colour bars that move 4 pixels a frame and
 *         luma (x + 2y + 3 * counter) mod 256, so converted pixels can be checked exactly (see
 *         Tests/CaptureTests/KernelFakeSupport.swift, which mirrors yuyv_sample below).
 *   MJPG  a real JPEG (libjpeg-turbo, quality 90, 4:2:2 like UVC cameras) of smooth colour ramps whose top
 *         16 rows hold the counter as 12 black or white 16x16 blocks (bit 0 first).
 *
 * Configuration (environment variables, read when the library is loaded):
 *   FAKE_KERNEL_NODES     comma-separated nodes, each PATH=capture or PATH=meta, optionally followed by
 *                         :CARD (default "/dev/video0=capture"). A metadata node answers QUERYCAP without
 *                         VIDEO_CAPTURE, as the second node UVC cameras create. Nodes with the same card
 *                         share a bus_info, as the nodes of one camera do.
 *   FAKE_KERNEL_CARD      card name of nodes that name none (default "Fake UVC Camera")
 *   FAKE_KERNEL_DRIVER    driver name in QUERYCAP (default "uvcvideo": libv4lconvert then picks formats from
 *                         the ENUM_FRAMESIZES lists, as it does for UVC cameras)
 *   FAKE_KERNEL_FORMATS   formats and their sizes, e.g. "MJPG:1280x720/640x480,YUYV:640x480"
 *                         (default "YUYV:640x480"); YUYV and MJPG are drawn, the first is the default
 *   FAKE_KERNEL_FPS       frame rates offered at every size, first is the default (default "30")
 *   FAKE_KERNEL_MJPEG     good (default) | garbage (bytes that are no JPEG) | wrong-size (a valid JPEG whose
 *                         size is not the negotiated one)
 *   FAKE_KERNEL_JPEG_DIR  write every MJPEG frame served to DIR/frame-COUNTER.jpg
 *   FAKE_KERNEL_UNPLUG_AFTER=n  after n frames every node disappears: ioctls fail with ENODEV, open with ENOENT
 *   FAKE_KERNEL_REPLUG_MS=t     the nodes come back t milliseconds after they disappeared
 *   FAKE_KERNEL_LOG=path  append one line per notable call (open, close, ioctl names, mmap, munmap, unplug)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <jpeglib.h>
#include <linux/videodev2.h>

#define MAX_NODES 8
#define MAX_FORMATS 4
#define MAX_SIZES 8
#define MAX_RATES 8
#define MAX_BUFFERS 8
#define MAX_HANDLES 32
#define MAX_MAPPINGS 64
#define MAX_DIRS 8
#define FD_LIMIT 4096
#define COUNTER_BITS 12

enum node_kind { NODE_CAPTURE, NODE_META };
enum mjpeg_mode { MJPEG_GOOD, MJPEG_GARBAGE, MJPEG_WRONG_SIZE };
enum slot_state { SLOT_WITH_APP, SLOT_QUEUED, SLOT_DONE };

struct size { uint32_t width, height; };

struct format {
    uint32_t fourcc;
    struct size sizes[MAX_SIZES];
    int size_count;
};

struct slot {
    enum slot_state state;
    uint32_t bytesused;
    uint32_t sequence;
    struct timeval timestamp;
};

struct node {
    char path[128];
    enum node_kind kind;
    char card[32];
    char bus[32];
    unsigned minor;
    /* Device-wide state, shared by every open descriptor, as in a driver. */
    struct v4l2_pix_format pix;
    uint32_t rate;
    int owner;                /* descriptor that holds the buffers, -1 when none */
    int memfd;
    uint8_t *memory;          /* the fake's own mapping of every buffer */
    size_t stride;            /* page-aligned distance between buffers */
    uint32_t count;
    struct slot slots[MAX_BUFFERS];
    int queued[MAX_BUFFERS];  /* FIFO of buffers the driver may fill */
    int queued_count;
    int done[MAX_BUFFERS];    /* FIFO of filled buffers */
    int done_count;
    int streaming;
    struct timespec start;
    uint64_t produced;        /* frame intervals elapsed since STREAMON */
};

static struct {
    struct node nodes[MAX_NODES];
    int node_count;
    char driver[16];
    struct format formats[MAX_FORMATS];
    int format_count;
    uint32_t rates[MAX_RATES];
    int rate_count;
    enum mjpeg_mode mjpeg;
    char jpeg_dir[512];
    long unplug_after;
    long replug_ms;
    FILE *log;
} config;

static struct {
    int fd;
    struct node *node;
    int nonblocking;
} handles[MAX_HANDLES];

static struct {
    void *address;
    size_t length;
} mappings[MAX_MAPPINGS];

static struct {
    DIR *dir;
    int next_node;    /* -1 while the real entries are being read */
    struct dirent entry;
    struct dirent64 entry64;
} dirs[MAX_DIRS];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char fake_fd[FD_LIMIT];  /* quick test before taking the lock */
static uint64_t frames_filled;           /* over the life of the process: the counter drawn into frames */
static int unplugged;
static struct timespec unplugged_at;

/* The libc functions this library stands in front of. */
static long (*real_syscall)(long, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static DIR *(*real_opendir)(const char *);
static struct dirent *(*real_readdir)(DIR *);
static struct dirent64 *(*real_readdir64)(DIR *);
static int (*real_closedir)(DIR *);
static pthread_once_t configured = PTHREAD_ONCE_INIT;

static void configure(void);

static void ensure_configured(void) {
    pthread_once(&configured, configure);
}

static void fake_log(const char *format, ...) {
    if (!config.log) return;
    va_list args;
    va_start(args, format);
    vfprintf(config.log, format, args);
    va_end(args);
    fputc('\n', config.log);
    fflush(config.log);
}

static int fail(int error) {
    errno = error;
    return -1;
}

/* ---- configuration ---- */

static const char *env_text(const char *name, const char *fallback) {
    const char *value = getenv(name);
    return value && *value ? value : fallback;
}

static uint32_t parse_fourcc(const char *text, size_t length) {
    char code[4] = { ' ', ' ', ' ', ' ' };
    for (size_t i = 0; i < length && i < 4; i++) code[i] = text[i];
    return v4l2_fourcc(code[0], code[1], code[2], code[3]);
}

static void parse_nodes(const char *card) {
    const char *text = env_text("FAKE_KERNEL_NODES", "/dev/video0=capture");
    char cards[MAX_NODES][32];
    int card_count = 0;
    for (const char *p = text; *p && config.node_count < MAX_NODES;) {
        size_t length = strcspn(p, ",");
        char item[256];
        snprintf(item, sizeof item, "%.*s", (int)length, p);
        p += length + (p[length] == ',');
        char *kind = strchr(item, '=');
        if (!kind) continue;
        *kind++ = '\0';
        char *name = strchr(kind, ':');
        if (name) *name++ = '\0';
        struct node *node = &config.nodes[config.node_count];
        memset(node, 0, sizeof *node);
        snprintf(node->path, sizeof node->path, "%.127s", item);
        node->kind = strcmp(kind, "meta") == 0 ? NODE_META : NODE_CAPTURE;
        snprintf(node->card, sizeof node->card, "%s", name && *name ? name : card);
        int group = 0;
        while (group < card_count && strcmp(cards[group], node->card) != 0) group++;
        if (group == card_count) snprintf(cards[card_count++], sizeof cards[0], "%s", node->card);
        snprintf(node->bus, sizeof node->bus, "usb-0000:00:14.0-%d", group + 1);
        const char *digits = node->path + strcspn(node->path, "0123456789");
        node->minor = (unsigned)strtoul(digits, NULL, 10);
        node->owner = -1;
        node->memfd = -1;
        config.node_count++;
    }
}

static void parse_formats(void) {
    const char *text = env_text("FAKE_KERNEL_FORMATS", "YUYV:640x480");
    for (const char *p = text; *p && config.format_count < MAX_FORMATS;) {
        size_t length = strcspn(p, ",");
        struct format *format = &config.formats[config.format_count];
        memset(format, 0, sizeof *format);
        size_t name = strcspn(p, ":,");
        format->fourcc = parse_fourcc(p, name);
        for (const char *s = p + name + (p[name] == ':'); s < p + length && format->size_count < MAX_SIZES;) {
            unsigned width = 0, height = 0;
            if (sscanf(s, "%ux%u", &width, &height) == 2 && width > 0 && height > 0)
                format->sizes[format->size_count++] = (struct size){ width, height };
            s += strcspn(s, "/,") + (s[strcspn(s, "/,")] == '/');
            if (*s == ',') break;
        }
        if (format->size_count > 0) config.format_count++;
        p += length + (p[length] == ',');
    }
}

static void parse_rates(void) {
    const char *text = env_text("FAKE_KERNEL_FPS", "30");
    for (const char *p = text; *p && config.rate_count < MAX_RATES;) {
        long rate = strtol(p, NULL, 10);
        if (rate > 0) config.rates[config.rate_count++] = (uint32_t)rate;
        size_t length = strcspn(p, ",");
        p += length + (p[length] == ',');
    }
    if (config.rate_count == 0) config.rates[config.rate_count++] = 30;
}

static void set_format(struct node *node, uint32_t fourcc, uint32_t width, uint32_t height);

/* Finds the libc functions this library stands in front of. Called on every entry: the Swift runtime calls
 * syscall() from its own initialisers, before this library's would run. */
static void resolve(void) {
    if (real_closedir) return;
    real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    real_open64 = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open64");
    real_openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
    real_openat64 = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat64");
    real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    real_opendir = (DIR * (*)(const char *)) dlsym(RTLD_NEXT, "opendir");
    real_readdir = (struct dirent * (*)(DIR *)) dlsym(RTLD_NEXT, "readdir");
    real_readdir64 = (struct dirent64 * (*)(DIR *)) dlsym(RTLD_NEXT, "readdir64");
    real_closedir = (int (*)(DIR *))dlsym(RTLD_NEXT, "closedir");
}

/* Reads the configuration, once, at the first call that needs it. */
static void configure(void) {
    resolve();
    snprintf(config.driver, sizeof config.driver, "%s", env_text("FAKE_KERNEL_DRIVER", "uvcvideo"));
    parse_nodes(env_text("FAKE_KERNEL_CARD", "Fake UVC Camera"));
    parse_formats();
    if (config.format_count == 0) {
        config.formats[0] = (struct format){ .fourcc = V4L2_PIX_FMT_YUYV, .sizes = { { 640, 480 } }, .size_count = 1 };
        config.format_count = 1;
    }
    parse_rates();
    const char *mode = env_text("FAKE_KERNEL_MJPEG", "good");
    config.mjpeg = strcmp(mode, "garbage") == 0      ? MJPEG_GARBAGE
                   : strcmp(mode, "wrong-size") == 0 ? MJPEG_WRONG_SIZE
                                                     : MJPEG_GOOD;
    snprintf(config.jpeg_dir, sizeof config.jpeg_dir, "%s", env_text("FAKE_KERNEL_JPEG_DIR", ""));
    config.unplug_after = strtol(env_text("FAKE_KERNEL_UNPLUG_AFTER", "-1"), NULL, 10);
    config.replug_ms = strtol(env_text("FAKE_KERNEL_REPLUG_MS", "-1"), NULL, 10);
    const char *log = env_text("FAKE_KERNEL_LOG", "");
    if (*log) config.log = fopen(log, "ae");
    for (int i = 0; i < config.node_count; i++) {
        struct node *node = &config.nodes[i];
        node->rate = config.rates[0];
        set_format(node, config.formats[0].fourcc, config.formats[0].sizes[0].width,
                   config.formats[0].sizes[0].height);
    }
    for (int i = 0; i < MAX_HANDLES; i++) handles[i].fd = -1;
}

/* ---- formats ---- */

static const struct format *find_format(uint32_t fourcc) {
    for (int i = 0; i < config.format_count; i++)
        if (config.formats[i].fourcc == fourcc) return &config.formats[i];
    return NULL;
}

/* The offered size closest to the request (smallest squared distance). */
static struct size nearest_size(const struct format *format, uint32_t width, uint32_t height) {
    struct size best = format->sizes[0];
    long long best_distance = -1;
    for (int i = 0; i < format->size_count; i++) {
        long long dx = (long long)format->sizes[i].width - width, dy = (long long)format->sizes[i].height - height;
        long long distance = dx * dx + dy * dy;
        if (best_distance < 0 || distance < best_distance) {
            best = format->sizes[i];
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

static void fill_pix(struct v4l2_pix_format *pix, uint32_t fourcc, uint32_t width, uint32_t height) {
    const struct format *format = find_format(fourcc);
    if (!format) format = &config.formats[0];
    struct size size = nearest_size(format, width, height);
    memset(pix, 0, sizeof *pix);
    pix->width = size.width;
    pix->height = size.height;
    pix->pixelformat = format->fourcc;
    pix->field = V4L2_FIELD_NONE;
    pix->bytesperline = format->fourcc == V4L2_PIX_FMT_YUYV ? size.width * 2 : 0;
    pix->sizeimage = size.width * size.height * 2;
    pix->colorspace = V4L2_COLORSPACE_SRGB;
}

static void set_format(struct node *node, uint32_t fourcc, uint32_t width, uint32_t height) {
    fill_pix(&node->pix, fourcc, width, height);
}

static const char *fourcc_text(uint32_t fourcc) {
    static char text[5];
    for (int i = 0; i < 4; i++) text[i] = (char)((fourcc >> (8 * i)) & 255);
    text[4] = '\0';
    return text;
}

/* ---- frames ---- */

/* Chroma (U, V) of the eight YUYV colour bars; the last two reach the ends of the range. */
static const uint8_t bar_chroma[8][2] = {
    { 128, 128 }, { 16, 146 }, { 166, 16 }, { 54, 34 }, { 202, 222 }, { 90, 240 }, { 240, 110 }, { 0, 255 },
};

/* Y, U, V of YUYV pixel (x, y) of frame `counter`; U and V belong to the pixel pair x / 2. */
static void yuyv_sample(uint64_t counter, uint32_t x, uint32_t y, uint32_t width, uint8_t out[3]) {
    if (y == 0) {
        out[0] = x < 8 ? (uint8_t)(counter >> (8 * x)) : 0;
        out[1] = out[2] = 128;
        return;
    }
    uint32_t pair = x & ~1u;
    uint32_t bar = (uint32_t)(((pair + 4 * counter) * 8 / width) % 8);
    out[0] = (uint8_t)(x + 2 * y + 3 * counter);
    out[1] = bar_chroma[bar][0];
    out[2] = bar_chroma[bar][1];
}

static uint32_t draw_yuyv(uint8_t *base, const struct v4l2_pix_format *pix, uint64_t counter) {
    for (uint32_t y = 0; y < pix->height; y++) {
        uint8_t *row = base + (size_t)y * pix->bytesperline;
        for (uint32_t x = 0; x + 1 < pix->width; x += 2) {
            uint8_t left[3], right[3];
            yuyv_sample(counter, x, y, pix->width, left);
            yuyv_sample(counter, x + 1, y, pix->width, right);
            row[2 * x] = left[0];
            row[2 * x + 1] = left[1];
            row[2 * x + 2] = right[0];
            row[2 * x + 3] = left[2];
        }
    }
    return pix->bytesperline * pix->height;
}

/* RGB pixel (x, y) of the MJPEG test image of frame `counter`. */
static void mjpeg_pixel(uint64_t counter, uint32_t x, uint32_t y, uint32_t width, uint32_t height, uint8_t out[3]) {
    if (y < 16) {
        uint32_t bit = x / 16;
        uint8_t level = bit < COUNTER_BITS ? ((counter >> bit) & 1 ? 255 : 0) : 128;
        out[0] = out[1] = out[2] = level;
        return;
    }
    out[0] = (uint8_t)(x * 255 / (width - 1));
    out[1] = (uint8_t)(y * 255 / (height - 1));
    out[2] = (uint8_t)(255 - (x + y) * 255 / (width + height - 2));
}

/* Encodes the test image of `counter` at width x height; returns the JPEG's length (0 if it does not fit). */
static size_t encode_jpeg(uint64_t counter, uint32_t width, uint32_t height, uint8_t *out, size_t capacity) {
    struct jpeg_compress_struct compress;
    struct jpeg_error_mgr errors;
    compress.err = jpeg_std_error(&errors);
    jpeg_create_compress(&compress);
    unsigned char *memory = NULL;
    unsigned long length = 0;
    jpeg_mem_dest(&compress, &memory, &length);
    compress.image_width = width;
    compress.image_height = height;
    compress.input_components = 3;
    compress.in_color_space = JCS_RGB;
    jpeg_set_defaults(&compress);
    jpeg_set_quality(&compress, 90, TRUE);
    compress.comp_info[0].h_samp_factor = 2;
    compress.comp_info[0].v_samp_factor = 1;
    jpeg_start_compress(&compress, TRUE);
    uint8_t *row = malloc((size_t)width * 3);
    while (compress.next_scanline < height) {
        for (uint32_t x = 0; x < width; x++) mjpeg_pixel(counter, x, compress.next_scanline, width, height, row + 3 * x);
        JSAMPROW rows[1] = { row };
        jpeg_write_scanlines(&compress, rows, 1);
    }
    free(row);
    jpeg_finish_compress(&compress);
    jpeg_destroy_compress(&compress);
    size_t written = length <= capacity ? length : 0;
    if (written) memcpy(out, memory, length);
    free(memory);
    return written;
}

static void save_jpeg(uint64_t counter, const uint8_t *data, size_t length) {
    if (!config.jpeg_dir[0]) return;
    char path[600];
    snprintf(path, sizeof path, "%s/frame-%llu.jpg", config.jpeg_dir, (unsigned long long)counter);
    FILE *file = fopen(path, "we");
    if (!file) return;
    fwrite(data, 1, length, file);
    fclose(file);
}

static uint32_t draw_mjpeg(uint8_t *base, size_t capacity, const struct v4l2_pix_format *pix, uint64_t counter) {
    switch (config.mjpeg) {
    case MJPEG_GARBAGE: {
        /* Starts like nothing libjpeg knows: "Not a JPEG file". */
        uint32_t length = 4096 < capacity ? 4096 : (uint32_t)capacity;
        for (uint32_t i = 0; i < length; i++) base[i] = (uint8_t)("NOTAJPEG"[i % 8] + (i / 8) % 7);
        return length;
    }
    case MJPEG_WRONG_SIZE:
        return (uint32_t)encode_jpeg(counter, pix->width / 2, pix->height / 2, base, capacity);
    case MJPEG_GOOD:
    default: {
        size_t length = encode_jpeg(counter, pix->width, pix->height, base, capacity);
        save_jpeg(counter, base, length);
        return (uint32_t)length;
    }
    }
}

/* ---- streaming ---- */

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

static void unplug(void) {
    unplugged = 1;
    clock_gettime(CLOCK_MONOTONIC, &unplugged_at);
    fake_log("unplug");
}

/* Fills queued buffers with the frames whose time has come; frames without a free buffer are lost. */
static void produce(struct node *node) {
    if (!node->streaming || unplugged) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long elapsed_ns =
        (long long)(now.tv_sec - node->start.tv_sec) * 1000000000LL + (now.tv_nsec - node->start.tv_nsec);
    uint64_t due = (uint64_t)(elapsed_ns / (1000000000LL / node->rate));
    for (; node->produced < due; node->produced++) {
        if (node->queued_count == 0) continue;
        if (config.unplug_after >= 0 && frames_filled >= (uint64_t)config.unplug_after) {
            unplug();
            return;
        }
        int index = node->queued[0];
        memmove(node->queued, node->queued + 1, (size_t)(node->queued_count - 1) * sizeof node->queued[0]);
        node->queued_count--;
        uint8_t *base = node->memory + (size_t)index * node->stride;
        struct slot *slot = &node->slots[index];
        slot->bytesused = node->pix.pixelformat == V4L2_PIX_FMT_MJPEG
                              ? draw_mjpeg(base, node->pix.sizeimage, &node->pix, frames_filled)
                              : draw_yuyv(base, &node->pix, frames_filled);
        slot->sequence = (uint32_t)node->produced;
        slot->timestamp.tv_sec = now.tv_sec;
        slot->timestamp.tv_usec = now.tv_nsec / 1000;
        slot->state = SLOT_DONE;
        node->done[node->done_count++] = index;
        frames_filled++;
    }
}

/* Makes the streaming descriptor readable exactly when a filled buffer waits (or the device is gone), and
 * otherwise wakes it at the next frame's time. */
static void refresh(struct node *node) {
    produce(node);
    if (node->owner < 0) return;
    uint64_t expirations;
    while (real_syscall(SYS_read, node->owner, &expirations, sizeof expirations) > 0) {
    }
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    int flags = 0;
    if (unplugged || (node->streaming && node->done_count > 0)) {
        spec.it_value.tv_nsec = 1;
    } else if (node->streaming && node->queued_count > 0) {
        long long period = 1000000000LL / node->rate;
        long long at = (long long)node->start.tv_sec * 1000000000LL + node->start.tv_nsec +
                       (long long)(node->produced + 1) * period;
        spec.it_value.tv_sec = at / 1000000000LL;
        spec.it_value.tv_nsec = at % 1000000000LL;
        flags = TFD_TIMER_ABSTIME;
    }
    timerfd_settime(node->owner, flags, &spec, NULL);
}

static void free_buffers(struct node *node) {
    if (node->memory) munmap(node->memory, node->stride * node->count);
    if (node->memfd >= 0) real_close(node->memfd);
    node->memory = NULL;
    node->memfd = -1;
    node->count = 0;
    node->queued_count = 0;
    node->done_count = 0;
    node->streaming = 0;
    node->owner = -1;
}

static void fill_buffer(struct node *node, struct v4l2_buffer *buffer, uint32_t index) {
    uint32_t type = buffer->type;
    memset(buffer, 0, sizeof *buffer);
    buffer->type = type;
    buffer->index = index;
    buffer->memory = V4L2_MEMORY_MMAP;
    buffer->length = node->pix.sizeimage;
    buffer->m.offset = (uint32_t)(index * node->stride);
    buffer->field = V4L2_FIELD_NONE;
    buffer->flags = V4L2_BUF_FLAG_MAPPED | V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
    if (node->slots[index].state == SLOT_QUEUED) buffer->flags |= V4L2_BUF_FLAG_QUEUED;
    if (node->slots[index].state == SLOT_DONE) buffer->flags |= V4L2_BUF_FLAG_DONE;
}

/* ---- descriptors ---- */

static int handle_index(int fd) {
    if (fd < 0 || fd >= FD_LIMIT || !__atomic_load_n(&fake_fd[fd], __ATOMIC_ACQUIRE)) return -1;
    for (int i = 0; i < MAX_HANDLES; i++)
        if (handles[i].fd == fd) return i;
    return -1;
}

static struct node *find_node(const char *path) {
    if (!path || strncmp(path, "/dev/", 5) != 0) return NULL;
    ensure_configured();
    for (int i = 0; i < config.node_count; i++)
        if (strcmp(config.nodes[i].path, path) == 0) return &config.nodes[i];
    return NULL;
}

static int fake_open(struct node *node, int flags) {
    pthread_mutex_lock(&lock);
    check_replug();
    fake_log("open %s", node->path);
    if (unplugged) {
        pthread_mutex_unlock(&lock);
        return fail(ENOENT);
    }
    int slot = 0;
    while (slot < MAX_HANDLES && handles[slot].fd >= 0) slot++;
    int fd = slot < MAX_HANDLES ? timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC) : -1;
    if (fd < 0 || fd >= FD_LIMIT) {
        if (fd >= 0) real_close(fd);
        pthread_mutex_unlock(&lock);
        return fail(EMFILE);
    }
    handles[slot].fd = fd;
    handles[slot].node = node;
    handles[slot].nonblocking = (flags & O_NONBLOCK) != 0;
    __atomic_store_n(&fake_fd[fd], 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&lock);
    return fd;
}

static int fake_close(int index) {
    struct node *node = handles[index].node;
    int fd = handles[index].fd;
    fake_log("close %s", node->path);
    if (node->owner == fd) free_buffers(node);
    handles[index].fd = -1;
    __atomic_store_n(&fake_fd[fd], 0, __ATOMIC_RELEASE);
    return real_close(fd);
}

/* ---- ioctls ---- */

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
    case VIDIOC_ENUM_FRAMESIZES: return "ENUM_FRAMESIZES";
    case VIDIOC_ENUM_FRAMEINTERVALS: return "ENUM_FRAMEINTERVALS";
    case VIDIOC_QUERYCTRL: return "QUERYCTRL";
    case VIDIOC_G_INPUT: return "G_INPUT";
    case VIDIOC_ENUMINPUT: return "ENUMINPUT";
    default: return "other";
    }
}

static int node_has_meta_sibling(const struct node *node) {
    for (int i = 0; i < config.node_count; i++)
        if (config.nodes[i].kind == NODE_META && strcmp(config.nodes[i].bus, node->bus) == 0) return 1;
    return 0;
}

static int query_capability(struct node *node, struct v4l2_capability *cap) {
    memset(cap, 0, sizeof *cap);
    snprintf((char *)cap->driver, sizeof cap->driver, "%s", config.driver);
    snprintf((char *)cap->card, sizeof cap->card, "%s", node->card);
    snprintf((char *)cap->bus_info, sizeof cap->bus_info, "%s", node->bus);
    cap->version = 0x060100;
    if (node->kind == NODE_META) {
        cap->device_caps = V4L2_CAP_META_CAPTURE | V4L2_CAP_STREAMING | V4L2_CAP_EXT_PIX_FORMAT;
    } else {
        cap->device_caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING | V4L2_CAP_EXT_PIX_FORMAT;
    }
    cap->capabilities = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING | V4L2_CAP_EXT_PIX_FORMAT | V4L2_CAP_DEVICE_CAPS;
    if (node->kind == NODE_META || node_has_meta_sibling(node)) cap->capabilities |= V4L2_CAP_META_CAPTURE;
    return 0;
}

static int enumerate_format(struct node *node, struct v4l2_fmtdesc *description) {
    uint32_t index = description->index, type = description->type;
    if (node->kind == NODE_META) {
        if (type != V4L2_BUF_TYPE_META_CAPTURE || index > 0) return fail(EINVAL);
        memset(description, 0, sizeof *description);
        description->index = index;
        description->type = type;
        description->pixelformat = V4L2_META_FMT_UVC;
        snprintf((char *)description->description, sizeof description->description, "UVC Payload Header Data");
        return 0;
    }
    if (type != V4L2_BUF_TYPE_VIDEO_CAPTURE || index >= (uint32_t)config.format_count) return fail(EINVAL);
    memset(description, 0, sizeof *description);
    description->index = index;
    description->type = type;
    description->pixelformat = config.formats[index].fourcc;
    int compressed = description->pixelformat == V4L2_PIX_FMT_MJPEG;
    description->flags = compressed ? V4L2_FMT_FLAG_COMPRESSED : 0;
    snprintf((char *)description->description, sizeof description->description, "%s",
             compressed                                          ? "Motion-JPEG"
             : description->pixelformat == V4L2_PIX_FMT_YUYV     ? "YUYV 4:2:2"
                                                                 : fourcc_text(description->pixelformat));
    return 0;
}

static int enumerate_size(struct v4l2_frmsizeenum *size) {
    const struct format *format = find_format(size->pixel_format);
    if (!format || size->index >= (uint32_t)format->size_count) return fail(EINVAL);
    size->type = V4L2_FRMSIZE_TYPE_DISCRETE;
    size->discrete.width = format->sizes[size->index].width;
    size->discrete.height = format->sizes[size->index].height;
    memset(size->reserved, 0, sizeof size->reserved);
    return 0;
}

static int enumerate_interval(struct v4l2_frmivalenum *interval) {
    const struct format *format = find_format(interval->pixel_format);
    if (!format || interval->index >= (uint32_t)config.rate_count) return fail(EINVAL);
    int offered = 0;
    for (int i = 0; i < format->size_count; i++)
        if (format->sizes[i].width == interval->width && format->sizes[i].height == interval->height) offered = 1;
    if (!offered) return fail(EINVAL);
    interval->type = V4L2_FRMIVAL_TYPE_DISCRETE;
    interval->discrete.numerator = 1;
    interval->discrete.denominator = config.rates[interval->index];
    memset(interval->reserved, 0, sizeof interval->reserved);
    return 0;
}

/* The controls libv4lcontrol would otherwise emulate (and keep in a shared-memory segment): present here. */
static int query_control(struct v4l2_queryctrl *control) {
    if (control->id & V4L2_CTRL_FLAG_NEXT_CTRL) return fail(EINVAL);
    uint32_t id = control->id;
    memset(control, 0, sizeof *control);
    control->id = id;
    switch (id) {
    case V4L2_CID_AUTO_WHITE_BALANCE:
    case V4L2_CID_HFLIP:
    case V4L2_CID_VFLIP:
        control->type = V4L2_CTRL_TYPE_BOOLEAN;
        control->maximum = 1;
        control->step = 1;
        break;
    case V4L2_CID_GAMMA:
        control->type = V4L2_CTRL_TYPE_INTEGER;
        control->minimum = 100;
        control->maximum = 300;
        control->step = 1;
        control->default_value = 100;
        break;
    default: return fail(EINVAL);
    }
    snprintf((char *)control->name, sizeof control->name, "control %u", id);
    return 0;
}

static int request_buffers(int fd, struct node *node, struct v4l2_requestbuffers *request) {
    if (request->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || request->memory != V4L2_MEMORY_MMAP) return fail(EINVAL);
    if (node->owner >= 0 && node->owner != fd) return fail(EBUSY);
    if (node->streaming) return fail(EBUSY);
    free_buffers(node);
    if (request->count == 0) return 0;
    uint32_t count = request->count < MAX_BUFFERS ? request->count : MAX_BUFFERS;
    long page = sysconf(_SC_PAGESIZE);
    node->stride = ((size_t)node->pix.sizeimage + (size_t)page - 1) / (size_t)page * (size_t)page;
    node->memfd = memfd_create("fake-kernel-v4l2", MFD_CLOEXEC);
    if (node->memfd < 0 || ftruncate(node->memfd, (off_t)(node->stride * count)) != 0) {
        free_buffers(node);
        return fail(ENOMEM);
    }
    node->memory = mmap(NULL, node->stride * count, PROT_READ | PROT_WRITE, MAP_SHARED, node->memfd, 0);
    if (node->memory == MAP_FAILED) {
        node->memory = NULL;
        free_buffers(node);
        return fail(ENOMEM);
    }
    node->count = count;
    node->owner = fd;
    for (uint32_t i = 0; i < count; i++) node->slots[i] = (struct slot){ .state = SLOT_WITH_APP };
    request->count = count;
    request->capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP;
    return 0;
}

static int queue_buffer(int fd, struct node *node, struct v4l2_buffer *buffer) {
    if (buffer->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || buffer->memory != V4L2_MEMORY_MMAP ||
        buffer->index >= node->count || node->owner != fd)
        return fail(EINVAL);
    if (node->slots[buffer->index].state != SLOT_WITH_APP) return fail(EINVAL);
    node->slots[buffer->index].state = SLOT_QUEUED;
    node->queued[node->queued_count++] = (int)buffer->index;
    fill_buffer(node, buffer, buffer->index);
    refresh(node);
    return 0;
}

static int dequeue_buffer(int index, struct node *node, struct v4l2_buffer *buffer) {
    int fd = handles[index].fd;
    if (buffer->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || buffer->memory != V4L2_MEMORY_MMAP) return fail(EINVAL);
    if (node->owner != fd || !node->streaming) return fail(EINVAL);
    for (;;) {
        refresh(node);
        if (unplugged) return fail(ENODEV);
        if (node->done_count > 0) break;
        if (handles[index].nonblocking) return fail(EAGAIN);
        /* A blocking descriptor waits for the next frame, with the lock released. */
        pthread_mutex_unlock(&lock);
        struct pollfd waiter = { .fd = fd, .events = POLLIN };
        poll(&waiter, 1, 1000);
        pthread_mutex_lock(&lock);
        if (handle_index(fd) != index || node->owner != fd || !node->streaming) return fail(EINVAL);
    }
    int done = node->done[0];
    memmove(node->done, node->done + 1, (size_t)(node->done_count - 1) * sizeof node->done[0]);
    node->done_count--;
    struct slot *slot = &node->slots[done];
    slot->state = SLOT_WITH_APP;
    fill_buffer(node, buffer, (uint32_t)done);
    buffer->bytesused = slot->bytesused;
    buffer->sequence = slot->sequence;
    buffer->timestamp = slot->timestamp;
    refresh(node);
    return 0;
}

static int fake_ioctl(int index, unsigned long request, void *arg) {
    int fd = handles[index].fd;
    struct node *node = handles[index].node;
    if (request != VIDIOC_DQBUF && request != VIDIOC_QBUF) fake_log("ioctl %s", ioctl_name(request));
    check_replug();
    if (unplugged) return fail(ENODEV);

    switch (request) {
    case VIDIOC_QUERYCAP:
        return query_capability(node, arg);
    case VIDIOC_ENUM_FMT:
        return enumerate_format(node, arg);
    case VIDIOC_QUERYCTRL:
        return query_control(arg);
    case VIDIOC_G_INPUT:
        if (node->kind == NODE_META) return fail(ENOTTY);
        *(int *)arg = 0;
        return 0;
    case VIDIOC_ENUMINPUT: {
        struct v4l2_input *input = arg;
        if (node->kind == NODE_META) return fail(ENOTTY);
        if (input->index != 0) return fail(EINVAL);
        memset(input, 0, sizeof *input);
        snprintf((char *)input->name, sizeof input->name, "Camera 1");
        input->type = V4L2_INPUT_TYPE_CAMERA;
        return 0;
    }
    default:
        break;
    }
    if (node->kind == NODE_META) return fail(request == VIDIOC_G_FMT || request == VIDIOC_S_FMT ? EINVAL : ENOTTY);

    switch (request) {
    case VIDIOC_ENUM_FRAMESIZES:
        return enumerate_size(arg);
    case VIDIOC_ENUM_FRAMEINTERVALS:
        return enumerate_interval(arg);
    case VIDIOC_G_FMT: {
        struct v4l2_format *format = arg;
        if (format->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return fail(EINVAL);
        format->fmt.pix = node->pix;
        return 0;
    }
    case VIDIOC_S_FMT:
    case VIDIOC_TRY_FMT: {
        struct v4l2_format *format = arg;
        if (format->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return fail(EINVAL);
        struct v4l2_pix_format asked = format->fmt.pix;
        if (request == VIDIOC_S_FMT) {
            if (node->count > 0 || node->streaming) return fail(EBUSY);
            set_format(node, asked.pixelformat, asked.width, asked.height);
            format->fmt.pix = node->pix;
            fake_log("format %s %ux%u", fourcc_text(node->pix.pixelformat), node->pix.width, node->pix.height);
        } else {
            fill_pix(&format->fmt.pix, asked.pixelformat, asked.width, asked.height);
        }
        return 0;
    }
    case VIDIOC_G_PARM:
    case VIDIOC_S_PARM: {
        struct v4l2_streamparm *parm = arg;
        if (parm->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return fail(EINVAL);
        if (request == VIDIOC_S_PARM) {
            struct v4l2_fract asked = parm->parm.capture.timeperframe;
            if (asked.numerator > 0 && asked.denominator > 0) {
                if (node->streaming) return fail(EBUSY);
                node->rate = nearest_rate((double)asked.denominator / (double)asked.numerator);
            }
        }
        memset(&parm->parm, 0, sizeof parm->parm);
        parm->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
        parm->parm.capture.timeperframe.numerator = 1;
        parm->parm.capture.timeperframe.denominator = node->rate;
        return 0;
    }
    case VIDIOC_REQBUFS:
        return request_buffers(fd, node, arg);
    case VIDIOC_QUERYBUF: {
        struct v4l2_buffer *buffer = arg;
        if (buffer->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || buffer->index >= node->count) return fail(EINVAL);
        fill_buffer(node, buffer, buffer->index);
        return 0;
    }
    case VIDIOC_QBUF:
        return queue_buffer(fd, node, arg);
    case VIDIOC_DQBUF:
        return dequeue_buffer(index, node, arg);
    case VIDIOC_STREAMON:
        if (*(int *)arg != V4L2_BUF_TYPE_VIDEO_CAPTURE || node->owner != fd || node->count == 0) return fail(EINVAL);
        if (!node->streaming) {
            node->streaming = 1;
            node->produced = 0;
            clock_gettime(CLOCK_MONOTONIC, &node->start);
        }
        refresh(node);
        return 0;
    case VIDIOC_STREAMOFF:
        if (*(int *)arg != V4L2_BUF_TYPE_VIDEO_CAPTURE) return fail(EINVAL);
        if (node->owner < 0) return 0;
        if (node->owner != fd) return fail(EBUSY);
        node->streaming = 0;
        node->queued_count = 0;
        node->done_count = 0;
        for (uint32_t i = 0; i < node->count; i++) node->slots[i].state = SLOT_WITH_APP;
        refresh(node);
        return 0;
    default:
        return fail(ENOTTY);
    }
}

static void *fake_mmap(int index, size_t length, int prot, int flags, long offset) {
    struct node *node = handles[index].node;
    if (unplugged) {
        errno = ENODEV;
        return MAP_FAILED;
    }
    if (node->owner != handles[index].fd || node->memfd < 0 || offset < 0 ||
        (size_t)offset + length > node->stride * node->count) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    void *mapping = mmap(NULL, length, prot, flags, node->memfd, (off_t)offset);
    if (mapping != MAP_FAILED) {
        fake_log("mmap %ld", offset);
        for (int i = 0; i < MAX_MAPPINGS; i++)
            if (!mappings[i].address) {
                mappings[i].address = mapping;
                mappings[i].length = length;
                break;
            }
    }
    return mapping;
}

static void note_munmap(void *address) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_MAPPINGS; i++)
        if (mappings[i].address == address) {
            mappings[i].address = NULL;
            fake_log("munmap");
        }
    pthread_mutex_unlock(&lock);
}

/* ---- entry points ---- */

static int ioctl_entry(int fd, unsigned long request, void *arg) {
    pthread_mutex_lock(&lock);
    int index = handle_index(fd);
    int result = index >= 0 ? fake_ioctl(index, request, arg) : -2;
    int saved = errno;
    pthread_mutex_unlock(&lock);
    errno = saved;
    return result;
}

static int close_entry(int fd) {
    pthread_mutex_lock(&lock);
    int index = handle_index(fd);
    int result = index >= 0 ? fake_close(index) : -2;
    int saved = errno;
    pthread_mutex_unlock(&lock);
    errno = saved;
    return result;
}

long syscall(long number, ...) {
    resolve();
    va_list args;
    va_start(args, number);
    long a = va_arg(args, long), b = va_arg(args, long), c = va_arg(args, long);
    long d = va_arg(args, long), e = va_arg(args, long), f = va_arg(args, long);
    va_end(args);

    switch (number) {
    case SYS_openat: {
        struct node *node = find_node((const char *)b);
        if (node) return fake_open(node, (int)c);
        break;
    }
    case SYS_open: {
        struct node *node = find_node((const char *)a);
        if (node) return fake_open(node, (int)b);
        break;
    }
    case SYS_close: {
        if (handle_index((int)a) < 0) break;
        int result = close_entry((int)a);
        if (result != -2) return result;
        break;
    }
    case SYS_ioctl: {
        if (handle_index((int)a) < 0) break;
        int result = ioctl_entry((int)a, (unsigned long)b, (void *)c);
        if (result != -2) return result;
        break;
    }
    case SYS_mmap: {
        if (handle_index((int)e) < 0) break;
        pthread_mutex_lock(&lock);
        int index = handle_index((int)e);
        void *mapping = index >= 0 ? fake_mmap(index, (size_t)b, (int)c, (int)d, f) : NULL;
        int saved = errno;
        pthread_mutex_unlock(&lock);
        errno = saved;
        if (index >= 0) return (long)mapping;
        break;
    }
    case SYS_munmap: {
        long result = real_syscall(number, a, b);
        if (result == 0) note_munmap((void *)a);
        return result;
    }
    case SYS_read:
    case SYS_write:
        if (handle_index((int)a) >= 0) return fail(EINVAL);
        break;
    default:
        break;
    }
    return real_syscall(number, a, b, c, d, e, f);
}

int ioctl(int fd, unsigned long request, ...) {
    resolve();
    va_list args;
    va_start(args, request);
    void *arg = va_arg(args, void *);
    va_end(args);
    if (handle_index(fd) >= 0) {
        int result = ioctl_entry(fd, request, arg);
        if (result != -2) return result;
    }
    return real_ioctl(fd, request, arg);
}

int close(int fd) {
    resolve();
    if (handle_index(fd) >= 0) {
        int result = close_entry(fd);
        if (result != -2) return result;
    }
    return real_close(fd);
}

static mode_t open_mode(int flags, va_list args) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(args, int) : 0;
}

int open(const char *path, int flags, ...) {
    resolve();
    va_list args;
    va_start(args, flags);
    mode_t mode = open_mode(flags, args);
    va_end(args);
    struct node *node = find_node(path);
    return node ? fake_open(node, flags) : real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    resolve();
    va_list args;
    va_start(args, flags);
    mode_t mode = open_mode(flags, args);
    va_end(args);
    struct node *node = find_node(path);
    return node ? fake_open(node, flags) : real_open64(path, flags, mode);
}

int openat(int directory, const char *path, int flags, ...) {
    resolve();
    va_list args;
    va_start(args, flags);
    mode_t mode = open_mode(flags, args);
    va_end(args);
    struct node *node = find_node(path);
    return node ? fake_open(node, flags) : real_openat(directory, path, flags, mode);
}

int openat64(int directory, const char *path, int flags, ...) {
    resolve();
    va_list args;
    va_start(args, flags);
    mode_t mode = open_mode(flags, args);
    va_end(args);
    struct node *node = find_node(path);
    return node ? fake_open(node, flags) : real_openat64(directory, path, flags, mode);
}

/* ---- the listing of /dev ---- */

static int dir_slot(DIR *dir) {
    for (int i = 0; i < MAX_DIRS; i++)
        if (dir && dirs[i].dir == dir) return i;
    return -1;
}

DIR *opendir(const char *path) {
    resolve();
    DIR *dir = real_opendir(path);
    if (!dir || (strcmp(path, "/dev") != 0 && strcmp(path, "/dev/") != 0)) return dir;
    ensure_configured();
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_DIRS; i++)
        if (!dirs[i].dir) {
            dirs[i].dir = dir;
            dirs[i].next_node = -1;
            break;
        }
    pthread_mutex_unlock(&lock);
    return dir;
}

/* The name under /dev of the next simulated node to list, or NULL at the end. */
static const char *next_fake_entry(int slot, unsigned *minor) {
    check_replug();
    if (dirs[slot].next_node < 0) dirs[slot].next_node = 0;
    while (dirs[slot].next_node < config.node_count) {
        struct node *node = &config.nodes[dirs[slot].next_node++];
        if (unplugged || strncmp(node->path, "/dev/", 5) != 0 || strchr(node->path + 5, '/')) continue;
        *minor = node->minor;
        return node->path + 5;
    }
    return NULL;
}

static int hidden(const char *name) {
    return strncmp(name, "video", 5) == 0;
}

struct dirent *readdir(DIR *dir) {
    resolve();
    pthread_mutex_lock(&lock);
    int slot = dir_slot(dir);
    pthread_mutex_unlock(&lock);
    if (slot < 0) return real_readdir(dir);
    if (dirs[slot].next_node < 0) {
        struct dirent *entry;
        while ((entry = real_readdir(dir)) && hidden(entry->d_name)) {
        }
        if (entry) return entry;
    }
    pthread_mutex_lock(&lock);
    unsigned minor = 0;
    const char *name = next_fake_entry(slot, &minor);
    struct dirent *entry = NULL;
    if (name) {
        entry = &dirs[slot].entry;
        memset(entry, 0, sizeof *entry);
        entry->d_ino = 0x7f000000u + minor;
        entry->d_type = DT_CHR;
        entry->d_reclen = sizeof *entry;
        snprintf(entry->d_name, sizeof entry->d_name, "%s", name);
    }
    pthread_mutex_unlock(&lock);
    return entry;
}

struct dirent64 *readdir64(DIR *dir) {
    resolve();
    pthread_mutex_lock(&lock);
    int slot = dir_slot(dir);
    pthread_mutex_unlock(&lock);
    if (slot < 0) return real_readdir64(dir);
    if (dirs[slot].next_node < 0) {
        struct dirent64 *entry;
        while ((entry = real_readdir64(dir)) && hidden(entry->d_name)) {
        }
        if (entry) return entry;
    }
    pthread_mutex_lock(&lock);
    unsigned minor = 0;
    const char *name = next_fake_entry(slot, &minor);
    struct dirent64 *entry = NULL;
    if (name) {
        entry = &dirs[slot].entry64;
        memset(entry, 0, sizeof *entry);
        entry->d_ino = 0x7f000000u + minor;
        entry->d_type = DT_CHR;
        entry->d_reclen = sizeof *entry;
        snprintf(entry->d_name, sizeof entry->d_name, "%s", name);
    }
    pthread_mutex_unlock(&lock);
    return entry;
}

int closedir(DIR *dir) {
    resolve();
    pthread_mutex_lock(&lock);
    int slot = dir_slot(dir);
    if (slot >= 0) dirs[slot].dir = NULL;
    pthread_mutex_unlock(&lock);
    return real_closedir(dir);
}
