// The module's only function is static inline in cprefetch.h; SwiftPM needs a source file for a C target.
#include "cprefetch.h"
