// libpng (Debian libpng-dev), used from C by CImageCodecs: its errors long-jump.
#include <png.h>
