/* The tunnel's name from the client certificate's subject (internal.h). */
#include <string.h>

#include "internal.h"

int pqify_tunnel_subject_cn(const char *subject, char *out, size_t cap)
{
    size_t i = 0, len = strlen(subject);
    while (i < len) {
        int is_cn = len - i >= 3 && memcmp(subject + i, "CN=", 3) == 0;
        if (is_cn)
            i += 3;
        size_t n = 0;
        /* one RDN value, up to an unescaped ',' (RFC 4514 §2.4) */
        while (i < len && subject[i] != ',') {
            if (subject[i] == '\\' && i + 1 < len)
                i++;
            if (is_cn) {
                if (n + 1 >= cap)
                    return -1;
                out[n++] = subject[i];
            }
            i++;
        }
        if (is_cn) {
            out[n] = '\0';
            return n > 0 ? 0 : -1;
        }
        i++;   /* the ',' */
    }
    return -1;
}
