/* SPDX-License-Identifier: MIT */
/* `vnetctl keygen DIR NAME...`: makes one CURVE certificate per name with
 * czmq's zcert: DIR/NAME.key (public, to hand out) and DIR/NAME.key_secret
 * (keep it on the machine that runs NAME).  Refuses to overwrite. */
#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vnetctl.h"

int
ctl_keygen(struct ctl *ctl, int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: vnetctl keygen DIR NAME...\n");
        return CTL_EXIT_USAGE;
    }
    const char *dir = argv[1];
    if (zsys_dir_create("%s", dir) != 0) {
        fprintf(stderr, "vnetctl keygen: cannot create '%s'\n", dir);
        return CTL_EXIT_FAIL;
    }
    for (int i = 2; i < argc; i++) {
        if (!*argv[i] || argv[i][strspn(argv[i], "abcdefghijklmnopqrstuv"
                                           "wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789._-")]) {
            fprintf(stderr, "vnetctl keygen: bad name '%s'\n", argv[i]);
            return CTL_EXIT_USAGE;
        }
        char *path = zsys_sprintf("%s/%s.key", dir, argv[i]);
        if (zsys_file_exists(path)) {
            fprintf(stderr, "vnetctl keygen: '%s' exists, not replaced\n",
                    path);
            zstr_free(&path);
            return CTL_EXIT_FAIL;
        }
        zcert_t *cert = zcert_new();
        zcert_set_meta(cert, "name", "%s", argv[i]);
        mode_t old = umask(077);    /* the secret file is for root only */
        int rc = zcert_save(cert, path);
        umask(old);
        if (rc != 0) {
            fprintf(stderr, "vnetctl keygen: cannot write '%s'\n", path);
            zcert_destroy(&cert);
            zstr_free(&path);
            return CTL_EXIT_FAIL;
        }
        if (ctl->json) {
            printf("{\"name\":\"%s\",\"public\":\"%s\",\"file\":\"%s\"}\n",
                   argv[i], zcert_public_txt(cert), path);
        } else {
            printf("%s %s\n", path, zcert_public_txt(cert));
        }
        zcert_destroy(&cert);
        zstr_free(&path);
    }
    return CTL_EXIT_OK;
}
