// libjpeg-turbo (Debian libjpeg62-turbo-dev), used from C by CImageCodecs: its errors long-jump.
#include <stddef.h>
#include <stdio.h>
#include <jpeglib.h>
