// libwebp and its demuxer (Debian libwebp-dev): the animation decoder Pillow's WebP plugin uses for every file.
#include <webp/decode.h>
#include <webp/demux.h>
