// JPEG decoding through libjpeg-turbo with the settings Pillow's JpegDecode.c leaves in place (libjpeg's defaults:
// ISLOW DCT, fancy upsampling, its guess of the colour space) and the output colour space Pillow asks for (grey,
// RGB, or CMYK for four components). Unlike Pillow, which feeds libjpeg through a suspending source and calls the
// file truncated when libjpeg asks for more, this reads from memory: libjpeg's memory source then warns
// JWRN_JPEG_EOF and pads with a fake end marker, and that warning is turned into CIC_TRUNCATED here (except while
// finishing after the last row, where Pillow accepts a missing end marker too).
#include "cimagecodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

struct cic_jpeg_error {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    cic_status status;
    int allow_eof;
    char message[CIC_MESSAGE_LENGTH];
};

struct cic_jpeg {
    struct jpeg_decompress_struct cinfo;
    struct cic_jpeg_error error;
    int created;
};

static void cic_jpeg_error_exit(j_common_ptr cinfo) {
    struct cic_jpeg_error *error = (struct cic_jpeg_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(error->message, sizeof error->message, "%s", text);
    error->status = CIC_ERROR;
    longjmp(error->jump, 1);
}

static void cic_jpeg_emit_message(j_common_ptr cinfo, int level) {
    struct cic_jpeg_error *error = (struct cic_jpeg_error *)cinfo->err;
    if (level >= 0) return;  // trace messages
    cinfo->err->num_warnings++;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF && !error->allow_eof) {
        snprintf(error->message, sizeof error->message, "the data ends before the image does");
        error->status = CIC_TRUNCATED;
        longjmp(error->jump, 1);
    }
    // Other warnings (corrupt data that libjpeg works around) are accepted, as Pillow accepts them.
}

static void cic_jpeg_silent(j_common_ptr cinfo) { (void)cinfo; }

cic_jpeg *cic_jpeg_open(const uint8_t *data, size_t size) {
    cic_jpeg *decoder = calloc(1, sizeof *decoder);
    if (!decoder) return NULL;
    decoder->cinfo.err = jpeg_std_error(&decoder->error.pub);
    decoder->error.pub.error_exit = cic_jpeg_error_exit;
    decoder->error.pub.emit_message = cic_jpeg_emit_message;
    decoder->error.pub.output_message = cic_jpeg_silent;
    decoder->error.status = CIC_OK;
    if (setjmp(decoder->error.jump)) return decoder;
    jpeg_create_decompress(&decoder->cinfo);
    decoder->created = 1;
    jpeg_mem_src(&decoder->cinfo, data, (unsigned long)size);
    jpeg_read_header(&decoder->cinfo, TRUE);
    switch (decoder->cinfo.num_components) {
    case 1: decoder->cinfo.out_color_space = JCS_GRAYSCALE; break;
    case 3: decoder->cinfo.out_color_space = JCS_RGB; break;
    case 4: decoder->cinfo.out_color_space = JCS_CMYK; break;
    default:
        snprintf(
            decoder->error.message, sizeof decoder->error.message, "%d colour components (Pillow reads 1, 3 or 4)",
            decoder->cinfo.num_components);
        decoder->error.status = CIC_ERROR;
        break;
    }
    return decoder;
}

cic_status cic_jpeg_status(const cic_jpeg *decoder) { return decoder->error.status; }
const char *cic_jpeg_message(const cic_jpeg *decoder) { return decoder->error.message; }
int cic_jpeg_width(const cic_jpeg *decoder) { return (int)decoder->cinfo.image_width; }
int cic_jpeg_height(const cic_jpeg *decoder) { return (int)decoder->cinfo.image_height; }
int cic_jpeg_components(const cic_jpeg *decoder) { return decoder->cinfo.num_components; }

cic_status cic_jpeg_decode(cic_jpeg *decoder, uint8_t *pixels, size_t row_bytes) {
    if (decoder->error.status != CIC_OK) return decoder->error.status;
    if (setjmp(decoder->error.jump)) return decoder->error.status;
    jpeg_start_decompress(&decoder->cinfo);
    if ((size_t)decoder->cinfo.output_width * (size_t)decoder->cinfo.output_components > row_bytes) {
        snprintf(decoder->error.message, sizeof decoder->error.message, "rows wider than the buffer");
        decoder->error.status = CIC_ERROR;
        return CIC_ERROR;
    }
    while (decoder->cinfo.output_scanline < decoder->cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)decoder->cinfo.output_scanline * row_bytes;
        jpeg_read_scanlines(&decoder->cinfo, &row, 1);
    }
    decoder->error.allow_eof = 1;
    jpeg_finish_decompress(&decoder->cinfo);
    return CIC_OK;
}

void cic_jpeg_free(cic_jpeg *decoder) {
    if (!decoder) return;
    if (decoder->created) jpeg_destroy_decompress(&decoder->cinfo);
    free(decoder);
}
