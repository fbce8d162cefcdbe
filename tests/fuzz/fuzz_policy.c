/* Fuzz the policy file parser (`policy add FILE`, and the policy inside an
 * admin statement): whatever parses must survive a round trip through its
 * canonical JSON and be no wider than itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/json.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nc_policy p, q;
    char msg[256];
    if (nc_policy_parse(data, size, &p, msg, sizeof msg) != NC_OK)
        return 0;
    json_t *o = nc_policy_to_json(&p);
    size_t n = 0;
    char *text = o ? nc_json_canonical(o, &n) : NULL;
    if (!text || nc_policy_parse(text, n, &q, msg, sizeof msg) != NC_OK)
        abort();
    if (nc_policy_widens(&p, &q) || nc_policy_widens(&q, &p))
        abort();
    nc_policy_cleanup(&q);
    free(text);
    json_decref(o);
    nc_policy_cleanup(&p);
    return 0;
}
