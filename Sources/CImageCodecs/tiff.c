// TIFF reading through libtiff from memory: the first directory's tags and its strips or tiles, decompressed but
// otherwise as stored (the Swift side unpacks them as Pillow's TiffImagePlugin and Unpack.c do). libtiff's errors go
// to a handler of this decoder's own (libtiff 4.5's per-handle handlers), never to standard error.
#include "cimagecodecs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

struct cic_tiff {
    TIFF *tiff;
    const uint8_t *data;
    size_t size;
    size_t offset;
    cic_status status;
    /// A read asked for bytes past the end of the data.
    int short_read;
    char message[CIC_MESSAGE_LENGTH];
};

static int cic_tiff_error(TIFF *tiff, void *user, const char *module, const char *format, va_list arguments) {
    (void)tiff;
    (void)module;
    cic_tiff *decoder = user;
    // The first message since the last failure is kept; whether it was fatal is up to the call that failed.
    if (decoder->status == CIC_OK && decoder->message[0] == 0) {
        vsnprintf(decoder->message, sizeof decoder->message, format, arguments);
    }
    return 1;
}

static int cic_tiff_warning(TIFF *tiff, void *user, const char *module, const char *format, va_list arguments) {
    (void)tiff;
    (void)user;
    (void)module;
    (void)format;
    (void)arguments;
    return 1;
}

static tmsize_t cic_tiff_read(thandle_t handle, void *buffer, tmsize_t size) {
    cic_tiff *decoder = (cic_tiff *)handle;
    if (size < 0) return -1;
    size_t left = decoder->offset < decoder->size ? decoder->size - decoder->offset : 0;
    size_t count = (size_t)size < left ? (size_t)size : left;
    if (count < (size_t)size) decoder->short_read = 1;
    memcpy(buffer, decoder->data + decoder->offset, count);
    decoder->offset += count;
    return (tmsize_t)count;
}

static tmsize_t cic_tiff_write(thandle_t handle, void *buffer, tmsize_t size) {
    (void)handle;
    (void)buffer;
    (void)size;
    return -1;
}

static toff_t cic_tiff_seek(thandle_t handle, toff_t offset, int whence) {
    cic_tiff *decoder = (cic_tiff *)handle;
    uint64_t base = whence == SEEK_CUR ? decoder->offset : whence == SEEK_END ? decoder->size : 0;
    decoder->offset = (size_t)(base + offset);
    return decoder->offset;
}

static int cic_tiff_close(thandle_t handle) {
    (void)handle;
    return 0;
}

static toff_t cic_tiff_size(thandle_t handle) { return ((cic_tiff *)handle)->size; }

static int cic_tiff_map(thandle_t handle, void **base, toff_t *size) {
    cic_tiff *decoder = (cic_tiff *)handle;
    *base = (void *)decoder->data;
    *size = decoder->size;
    return 1;
}

static void cic_tiff_unmap(thandle_t handle, void *base, toff_t size) {
    (void)handle;
    (void)base;
    (void)size;
}

cic_tiff *cic_tiff_open(const uint8_t *data, size_t size) {
    cic_tiff *decoder = calloc(1, sizeof *decoder);
    if (!decoder) return NULL;
    decoder->data = data;
    decoder->size = size;
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (!options) {
        free(decoder);
        return NULL;
    }
    TIFFOpenOptionsSetErrorHandlerExtR(options, cic_tiff_error, decoder);
    TIFFOpenOptionsSetWarningHandlerExtR(options, cic_tiff_warning, decoder);
    // "m": no memory mapping, so that every read goes through cic_tiff_read and one past the end is seen.
    decoder->tiff = TIFFClientOpenExt(
        "image", "rm", (thandle_t)decoder, cic_tiff_read, cic_tiff_write, cic_tiff_seek, cic_tiff_close,
        cic_tiff_size, cic_tiff_map, cic_tiff_unmap, options);
    TIFFOpenOptionsFree(options);
    if (!decoder->tiff) {
        decoder->status = decoder->short_read ? CIC_TRUNCATED : CIC_ERROR;
        if (decoder->message[0] == 0) snprintf(decoder->message, sizeof decoder->message, "not a readable TIFF file");
    } else {
        decoder->message[0] = 0;
    }
    return decoder;
}

cic_status cic_tiff_status(const cic_tiff *decoder) { return decoder->status; }
const char *cic_tiff_message(const cic_tiff *decoder) { return decoder->message; }

int cic_tiff_u16(const cic_tiff *decoder, uint32_t tag, int defaulted, uint16_t *value) {
    return defaulted ? TIFFGetFieldDefaulted(decoder->tiff, tag, value) : TIFFGetField(decoder->tiff, tag, value);
}

int cic_tiff_u32(const cic_tiff *decoder, uint32_t tag, int defaulted, uint32_t *value) {
    return defaulted ? TIFFGetFieldDefaulted(decoder->tiff, tag, value) : TIFFGetField(decoder->tiff, tag, value);
}

size_t cic_tiff_xmp(const cic_tiff *decoder, const uint8_t **bytes) {
    uint32_t count = 0;
    void *data = NULL;
    if (!TIFFGetField(decoder->tiff, TIFFTAG_XMLPACKET, &count, &data) || !data) return 0;
    *bytes = data;
    return count;
}

int cic_tiff_extra_samples(const cic_tiff *decoder, uint16_t *values, int capacity) {
    uint16_t count = 0;
    uint16_t *samples = NULL;
    if (!TIFFGetField(decoder->tiff, TIFFTAG_EXTRASAMPLES, &count, &samples)) return 0;
    for (int i = 0; i < count && i < capacity; i++) values[i] = samples[i];
    return count;
}

int cic_tiff_colormap(const cic_tiff *decoder, const uint16_t **red, const uint16_t **green, const uint16_t **blue) {
    uint16_t *r = NULL, *g = NULL, *b = NULL;
    if (!TIFFGetField(decoder->tiff, TIFFTAG_COLORMAP, &r, &g, &b)) return 0;
    *red = r;
    *green = g;
    *blue = b;
    return 1;
}

int cic_tiff_is_tiled(const cic_tiff *decoder) { return TIFFIsTiled(decoder->tiff); }

int cic_tiff_jpeg_rgb(cic_tiff *decoder) { return TIFFSetField(decoder->tiff, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB); }

uint32_t cic_tiff_chunk_count(const cic_tiff *decoder) {
    return TIFFIsTiled(decoder->tiff) ? TIFFNumberOfTiles(decoder->tiff) : TIFFNumberOfStrips(decoder->tiff);
}

int64_t cic_tiff_chunk_size(const cic_tiff *decoder) {
    return TIFFIsTiled(decoder->tiff) ? (int64_t)TIFFTileSize64(decoder->tiff) : (int64_t)TIFFStripSize64(decoder->tiff);
}

int64_t cic_tiff_read_chunk(cic_tiff *decoder, uint32_t index, uint8_t *buffer, int64_t capacity) {
    tmsize_t count = TIFFIsTiled(decoder->tiff) ? TIFFReadEncodedTile(decoder->tiff, index, buffer, (tmsize_t)capacity)
                                               : TIFFReadEncodedStrip(decoder->tiff, index, buffer, (tmsize_t)capacity);
    if (count < 0 && decoder->short_read) {
        decoder->status = CIC_TRUNCATED;
        snprintf(decoder->message, sizeof decoder->message, "the data ends before the image does");
    } else if (count < 0) {
        decoder->status = CIC_ERROR;
        if (decoder->message[0] == 0) snprintf(decoder->message, sizeof decoder->message, "cannot decode %s %u", TIFFIsTiled(decoder->tiff) ? "tile" : "strip", index);
    }
    return count;
}

void cic_tiff_free(cic_tiff *decoder) {
    if (!decoder) return;
    if (decoder->tiff) TIFFClose(decoder->tiff);
    free(decoder);
}
