/*
 * Linked into every per-backend KEM test (tests/CMakeLists.txt, BACKENDS).
 * The kem layer falls back silently when PQIFY_KEM_BACKEND names a backend
 * this CPU cannot run; a test labelled .../avx512 would then pass on another
 * backend. Before main(), insist on the named backend or skip (77) saying why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pqify/kem.h"

__attribute__((constructor)) static void require_named_backend(void)
{
    const char *want = getenv("PQIFY_KEM_BACKEND");
    if (want == NULL || *want == '\0')
        return;
    if (pqify_kem_set_backend(want) != PQIFY_OK) {
        fprintf(stderr, "SKIP: this CPU cannot run the %s KEM backend\n", want);
        _exit(77);
    }
}
