// PNG decoding through libpng, without any of libpng's transformations: the rows come out as stored (packed
// samples, 16-bit big-endian), de-interlaced, and the Swift side converts them as Pillow's PngImagePlugin and
// Unpack.c do. Data ending early is CIC_TRUNCATED (Pillow: "image file is truncated").
#include "cimagecodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

struct cic_png {
    png_structp png;
    png_infop info;
    png_infop end;
    const uint8_t *data;
    size_t size;
    size_t offset;
    jmp_buf jump;
    cic_status status;
    char message[CIC_MESSAGE_LENGTH];
};

static void cic_png_error(png_structp png, png_const_charp text) {
    cic_png *decoder = png_get_error_ptr(png);
    if (decoder->status == CIC_OK) {
        decoder->status = CIC_ERROR;
        snprintf(decoder->message, sizeof decoder->message, "%s", text);
    }
    longjmp(decoder->jump, 1);
}

static void cic_png_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static void cic_png_read(png_structp png, png_bytep out, size_t length) {
    cic_png *decoder = png_get_io_ptr(png);
    if (length > decoder->size - decoder->offset) {
        decoder->status = CIC_TRUNCATED;
        snprintf(decoder->message, sizeof decoder->message, "the data ends before the image does");
        png_error(png, "truncated");
    }
    memcpy(out, decoder->data + decoder->offset, length);
    decoder->offset += length;
}

cic_png *cic_png_open(const uint8_t *data, size_t size) {
    cic_png *decoder = calloc(1, sizeof *decoder);
    if (!decoder) return NULL;
    decoder->data = data;
    decoder->size = size;
    decoder->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, decoder, cic_png_error, cic_png_warning);
    if (!decoder->png) {
        free(decoder);
        return NULL;
    }
    if (setjmp(decoder->jump)) return decoder;
    decoder->info = png_create_info_struct(decoder->png);
    decoder->end = png_create_info_struct(decoder->png);
    if (!decoder->info || !decoder->end) png_error(decoder->png, "out of memory");
    png_set_read_fn(decoder->png, decoder, cic_png_read);
    // Pillow checks the CRCs of the chunks before the image data (the Swift side does too) and not the image
    // data's; libpng would refuse a bad one.
    png_set_crc_action(decoder->png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
    // Pillow limits only the number of pixels (checked before this), not each side as libpng does by default.
    png_set_user_limits(decoder->png, 0x7fffffff, 0x7fffffff);
    png_read_info(decoder->png, decoder->info);
    return decoder;
}

cic_status cic_png_status(const cic_png *decoder) { return decoder->status; }
const char *cic_png_message(const cic_png *decoder) { return decoder->message; }
int cic_png_width(const cic_png *decoder) { return (int)png_get_image_width(decoder->png, decoder->info); }
int cic_png_height(const cic_png *decoder) { return (int)png_get_image_height(decoder->png, decoder->info); }
int cic_png_bit_depth(const cic_png *decoder) { return png_get_bit_depth(decoder->png, decoder->info); }
int cic_png_color_type(const cic_png *decoder) { return png_get_color_type(decoder->png, decoder->info); }
size_t cic_png_row_bytes(const cic_png *decoder) { return png_get_rowbytes(decoder->png, decoder->info); }

cic_status cic_png_decode(cic_png *decoder, uint8_t *pixels, size_t row_bytes) {
    if (decoder->status != CIC_OK) return decoder->status;
    png_uint_32 height = png_get_image_height(decoder->png, decoder->info);
    png_bytepp rows = malloc(sizeof(png_bytep) * (height ? height : 1));
    if (!rows) {
        decoder->status = CIC_ERROR;
        snprintf(decoder->message, sizeof decoder->message, "out of memory");
        return CIC_ERROR;
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * row_bytes;
    if (setjmp(decoder->jump)) {
        free(rows);
        return decoder->status;
    }
    png_set_interlace_handling(decoder->png);
    png_read_update_info(decoder->png, decoder->info);
    if (png_get_rowbytes(decoder->png, decoder->info) > row_bytes) png_error(decoder->png, "rows wider than the buffer");
    png_read_image(decoder->png, rows);
    free(rows);
    return CIC_OK;
}

void cic_png_read_end(cic_png *decoder) {
    if (decoder->status != CIC_OK) return;
    if (setjmp(decoder->jump)) {
        // The pixels are complete; a damaged or missing ending costs only what it would have held.
        decoder->status = CIC_OK;
        return;
    }
    png_read_end(decoder->png, decoder->end);
}

size_t cic_png_exif(const cic_png *decoder, const uint8_t **bytes) {
    png_uint_32 length = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(decoder->png, decoder->info, &length, &exif) && exif && length) {
        *bytes = exif;
        return length;
    }
    if (png_get_eXIf_1(decoder->png, decoder->end, &length, &exif) && exif && length) {
        *bytes = exif;
        return length;
    }
    return 0;
}

int cic_png_text_count(const cic_png *decoder) {
    png_textp text = NULL;
    int before = png_get_text(decoder->png, decoder->info, &text, NULL);
    int after = png_get_text(decoder->png, decoder->end, &text, NULL);
    return before + after;
}

size_t cic_png_text(const cic_png *decoder, int index, const char **key, const char **text) {
    png_textp chunks = NULL;
    int before = png_get_text(decoder->png, decoder->info, &chunks, NULL);
    if (index >= before) {
        index -= before;
        int after = png_get_text(decoder->png, decoder->end, &chunks, NULL);
        if (index >= after) return 0;
    }
    png_textp chunk = &chunks[index];
    *key = chunk->key;
    *text = chunk->text ? chunk->text : "";
    return chunk->compression >= PNG_ITXT_COMPRESSION_NONE ? chunk->itxt_length : chunk->text_length;
}

void cic_png_free(cic_png *decoder) {
    if (!decoder) return;
    png_destroy_read_struct(&decoder->png, &decoder->info, &decoder->end);
    free(decoder);
}
