/* The console's UI files, embedded at build time (cmake/embed_assets.cmake). */
#ifndef NC_CONSOLE_ASSETS_H
#define NC_CONSOLE_ASSETS_H
#include <stddef.h>

typedef struct {
    const char *name;              /* file name in src/console/web ("index.html") */
    const unsigned char *data;     /* NUL-terminated copy of the bytes */
    size_t len;
} nc_asset;

/* Terminated by an entry whose name is NULL. */
extern const nc_asset nc_assets[];

#endif
