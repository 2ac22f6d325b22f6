#include <SDL.h>
#include <SDL_image.h>

/* Macros Swift cannot import. */
static inline int clipcam_SDL_WINDOWPOS_CENTERED(void) { return SDL_WINDOWPOS_CENTERED; }
static inline int clipcam_SDL_WINDOWPOS_UNDEFINED(void) { return SDL_WINDOWPOS_UNDEFINED; }
