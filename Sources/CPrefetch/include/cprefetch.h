// A software prefetch, which Swift cannot ask for itself (the intrinsic _mm_prefetch is a C macro).
#ifndef CLIPCAM_CPREFETCH_H
#define CLIPCAM_CPREFETCH_H

/// Asks the CPU to bring the 64-byte line holding `address` into every cache level, for reading. Never faults.
static inline void cprefetch_read(const void *address) { __builtin_prefetch(address, 0, 3); }

#endif
