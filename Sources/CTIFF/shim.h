// libtiff (Debian libtiff-dev), used from C by CImageCodecs: its tag getter is variadic.
#include <tiffio.h>
