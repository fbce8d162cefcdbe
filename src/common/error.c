#include "common/error.h"

static const char *const messages[] = {
#define NC_ERR_MSG(sym, code, msg) [sym] = msg,
    NC_ERRORS(NC_ERR_MSG)
#undef NC_ERR_MSG
};

static const char *const codes[] = {
#define NC_ERR_CODE(sym, code, msg) [sym] = code,
    NC_ERRORS(NC_ERR_CODE)
#undef NC_ERR_CODE
};

const char *nc_strerror(nc_err err)
{
    if ((unsigned)err >= NC_ERR_COUNT)
        return "unknown error";
    return messages[err];
}

const char *nc_errcode(nc_err err)
{
    if ((unsigned)err >= NC_ERR_COUNT)
        return "internal";
    return codes[err];
}
