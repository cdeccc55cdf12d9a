/* SPDX-License-Identifier: MIT */
/* `vnetctl keygen DIR NAME...`: makes one CURVE certificate per name with
 * czmq's zcert: DIR/NAME.key (public, to hand out) and DIR/NAME.key_secret
 * (keep it on the machine that runs NAME).  Refuses to overwrite.  NAME is
 * the identity the services will know the key by (common/authz.h): a role
 * ("planner") or a role and a name ("agent-h1"); the certificate's
 * metadata says so too, for whoever reads the file. */
#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "authz.h"
#include "vnetctl.h"

int
ctl_keygen(struct ctl *ctl, int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: vnetctl keygen DIR NAME...\n");
        return CTL_EXIT_USAGE;
    }
    /* Every name checked before any file is made. */
    struct authz_ident id;
    for (int i = 2; i < argc; i++) {
        char *file = zsys_sprintf("%s.key", argv[i]);
        bool ok = file && authz_ident_from_file(file, &id);
        zstr_free(&file);
        if (!ok) {
            fprintf(stderr, "vnetctl keygen: bad name '%s': ROLE or "
                            "ROLE-NAME, a letter first, then letters, "
                            "digits, '.', '_' or '-'\n", argv[i]);
            return CTL_EXIT_USAGE;
        }
    }
    const char *dir = argv[1];
    if (zsys_dir_create("%s", dir) != 0) {
        fprintf(stderr, "vnetctl keygen: cannot create '%s'\n", dir);
        return CTL_EXIT_FAIL;
    }
    for (int i = 2; i < argc; i++) {
        char *file = zsys_sprintf("%s.key", argv[i]);
        authz_ident_from_file(file, &id);
        zstr_free(&file);
        char *path = zsys_sprintf("%s/%s.key", dir, argv[i]);
        if (zsys_file_exists(path)) {
            fprintf(stderr, "vnetctl keygen: '%s' exists, not replaced\n",
                    path);
            zstr_free(&path);
            return CTL_EXIT_FAIL;
        }
        zcert_t *cert = zcert_new();
        zcert_set_meta(cert, "role", "%s", id.role);
        zcert_set_meta(cert, "name", "%s", id.name);
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
