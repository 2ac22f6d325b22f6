// A cache prefetch hint for Swift, which has no prefetch intrinsic: the packed matrix kernel asks for the next
// panel of weights while it works on the current one.
#pragma once

static inline __attribute__((always_inline)) void clipcam_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}
