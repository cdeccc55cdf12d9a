/* SPDX-License-Identifier: MIT */
/* Identities from certificate file names, the table check (role bits and
 * field bindings, walked through the protobuf-c descriptors so that one
 * rule serves any message), and the key table of an allowed directory. */
#include "authz.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "msgtype.h"
#include "vtime.h"

LOG_MODULE("authz");

static const char s_local[] = "local";

void
authz_ident_local(struct authz_ident *id)
{
    memset(id, 0, sizeof *id);
    snprintf(id->role, sizeof id->role, "%s", s_local);
    snprintf(id->name, sizeof id->name, "%s", s_local);
    snprintf(id->label, sizeof id->label, "%s", s_local);
}

bool
authz_ident_is_local(const struct authz_ident *id)
{
    return !id->key[0] && !strcmp(id->role, s_local);
}

bool
authz_ident_from_file(const char *file, struct authz_ident *id)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    memset(id, 0, sizeof *id);
    size_t len = strlen(file);
    if (len <= 4 || strcmp(file + len - 4, ".key") != 0) {
        return false;
    }
    size_t stem = len - 4;
    if (stem >= sizeof id->label || strspn(file, ok) < stem
        || !((file[0] >= 'a' && file[0] <= 'z')
             || (file[0] >= 'A' && file[0] <= 'Z'))) {
        return false;
    }
    const char *dash = memchr(file, '-', stem);
    size_t role_len = dash ? (size_t) (dash - file) : stem;
    size_t name_len = dash ? stem - role_len - 1 : stem;
    const char *name = dash ? dash + 1 : file;
    if (!role_len || role_len >= sizeof id->role || !name_len
        || name_len >= sizeof id->name) {
        return false;
    }
    memcpy(id->role, file, role_len);
    memcpy(id->name, name, name_len);
    memcpy(id->label, file, stem);
    return true;
}

unsigned
authz_role_bit(const char *role)
{
    static const struct {
        const char *role;
        unsigned bit;
    } roles[] = {
        { "agent", AUTHZ_AGENT },     { "aggregator", AUTHZ_AGGREGATOR },
        { "planner", AUTHZ_PLANNER }, { "broker", AUTHZ_BROKER },
        { "adapter", AUTHZ_ADAPTER }, { "vnetctl", AUTHZ_OPERATOR },
    };
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (!strcmp(role, roles[i].role)) {
            return roles[i].bit;
        }
    }
    return 0;
}

const struct authz_rule *
authz_find(const struct authz_rule *rules, size_t n_rules, int type)
{
    for (size_t i = 0; i < n_rules; i++) {
        if (rules[i].type == type) {
            return &rules[i];
        }
    }
    return NULL;
}

/* Checks that string field 'path' ("a" or "a.b") of 'msg' equals 'want'
 * wherever it occurs; on a mismatch copies the value found into 'bad'.  A
 * path that names no string field is a mismatch too (a broken table must
 * not open a door). */
static bool
s_bound(const ProtobufCMessage *msg, const char *path, const char *want,
        char *bad, size_t bad_size)
{
    char head[64];
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t) (dot - path) : strlen(path);
    if (!msg || len >= sizeof head) {
        snprintf(bad, bad_size, "(no such field)");
        return false;
    }
    memcpy(head, path, len);
    head[len] = '\0';
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor,
                                                        head);
    if (!f) {
        snprintf(bad, bad_size, "(no such field)");
        return false;
    }
    const char *base = (const char *) msg + f->offset;
    if (!dot) {
        if (f->type != PROTOBUF_C_TYPE_STRING
            || f->label == PROTOBUF_C_LABEL_REPEATED) {
            snprintf(bad, bad_size, "(not a string)");
            return false;
        }
        const char *s = *(char *const *) base;
        if (s && !strcmp(s, want)) {
            return true;
        }
        snprintf(bad, bad_size, "%s", s ? s : "");
        return false;
    }
    if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
        snprintf(bad, bad_size, "(not a message)");
        return false;
    }
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *) ((const char *) msg
                                      + f->quantifier_offset);
        ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *) base;
        for (size_t i = 0; i < n; i++) {
            if (!s_bound(v[i], dot + 1, want, bad, bad_size)) {
                return false;
            }
        }
        return true;
    }
    const ProtobufCMessage *sub = *(ProtobufCMessage *const *) base;
    return !sub || s_bound(sub, dot + 1, want, bad, bad_size);
}

bool
authz_check(const struct authz_rule *rules, size_t n_rules,
            const struct authz_ident *from, int type,
            const ProtobufCMessage *body, char *why, size_t why_size)
{
    if (authz_ident_is_local(from)) {
        return true;
    }
    const struct authz_rule *rule = authz_find(rules, n_rules, type);
    static const struct authz_rule status = {
        VR__MSG_TYPE__MSG_STATUS_REQUEST, AUTHZ_ANY, { NULL }
    };
    if (!rule && type == VR__MSG_TYPE__MSG_STATUS_REQUEST) {
        rule = &status;
    }
    if (!rule) {
        log_format(why, why_size, "%s may not send %s here: no client may",
                   LOG_ESC(from->label), msgtype_name(type));
        return false;
    }
    unsigned bit = from->role[0] ? authz_role_bit(from->role) : 0;
    if (!(rule->roles & AUTHZ_ANY) && !(rule->roles & bit)) {
        log_format(why, why_size, "%s (role '%s') may not send %s here",
                   LOG_ESC(from->label),
                   from->role[0] ? LOG_ESC(from->role) : "none",
                   msgtype_name(type));
        return false;
    }
    for (size_t i = 0; i < AUTHZ_MAX_BIND && rule->bind[i]; i++) {
        char bad[AUTHZ_NAME_SIZE * 2];
        if (!from->name[0]
            || !s_bound(body, rule->bind[i], from->name, bad, sizeof bad)) {
            log_format(why, why_size, "%s may send %s only for itself: "
                       "%s is '%s', not '%s'", LOG_ESC(from->label),
                       msgtype_name(type),
                       rule->bind[i], from->name[0] ? LOG_ESC(bad) : "?",
                       LOG_ESC(from->name));
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* The key table */

struct authz_keys {
    char *dir;                  /* the allowed directory */
    zhashx_t *by_key;           /* Z85 key -> struct authz_ident, owned */
    struct timespec mtime;      /* of 'dir' when last read */
    uint64_t read_us;           /* monotonic time of the last read */
};

static void
s_ident_free(void **item)
{
    free(*item);
    *item = NULL;
}

/* Reads the public key of the zcert file at 'path' into 'key' (Z85, 40
 * characters): the line 'public-key = "..."'.  Parsed here rather than
 * with zcert_load(), which leaks what it read from a file that is not a
 * certificate.  False if there is none or it is not a key. */
static bool
s_public_key(const char *path, char key[AUTHZ_KEY_SIZE])
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return false;
    }
    char line[256];
    bool found = false;
    /* A certificate is a few lines; a huge file is not one. */
    for (int n = 0; !found && n < 64 && fgets(line, sizeof line, f); n++) {
        const char *p = line + strspn(line, " \t");
        if (strncmp(p, "public-key", 10) != 0) {
            continue;
        }
        p += 10;
        p += strspn(p, " \t");
        if (*p++ != '=') {
            break;
        }
        p += strspn(p, " \t");
        uint8_t raw[32];
        if (*p == '"' && strlen(p) > 41 && p[41] == '"') {
            memcpy(key, p + 1, 40);
            key[40] = '\0';
            found = zmq_z85_decode(raw, key) != NULL;
        }
        break;
    }
    fclose(f);
    return found;
}

/* Reads 'self->dir' into a new table; NULL if the directory cannot be
 * read (logged). */
static zhashx_t *
s_read(authz_keys_t *self)
{
    DIR *d = opendir(self->dir);
    if (!d) {
        VLOG_ERR("curve.allowed: cannot read '%s': %s", self->dir,
                 strerror(errno));
        return NULL;
    }
    zhashx_t *by_key = zhashx_new();
    zhashx_set_destructor(by_key, s_ident_free);
    zlist_t *clashes = zlist_new();
    zlist_autofree(clashes);
    struct dirent *e;
    while ((e = readdir(d))) {
        struct authz_ident id;
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".key") != 0) {
            continue;           /* _secret halves, README, ... */
        }
        if (!authz_ident_from_file(e->d_name, &id)) {
            VLOG_WARN("curve.allowed: '%s' is not <role>.key or "
                      "<role>-<name>.key: skipped", LOG_ESC(e->d_name));
            continue;
        }
        if (zhashx_size(by_key) >= AUTHZ_MAX_KEYS) {
            VLOG_WARN("curve.allowed: more than %d certificates in '%s': "
                      "the rest are skipped", AUTHZ_MAX_KEYS, self->dir);
            break;
        }
        char *path = zsys_sprintf("%s/%s", self->dir, e->d_name);
        bool ok = path && s_public_key(path, id.key);
        zstr_free(&path);
        if (!ok) {
            VLOG_WARN("curve.allowed: no public key in '%s': skipped",
                      LOG_ESC(e->d_name));
            continue;
        }
        struct authz_ident *old = zhashx_lookup(by_key, id.key);
        if (old || zlist_exists(clashes, id.key)) {
            if (old) {
                VLOG_ERR("curve.allowed: one key in '%s.key' and '%s.key': "
                         "it gets no identity", old->label, id.label);
                zhashx_delete(by_key, id.key);
                zlist_append(clashes, id.key);
            }
            continue;
        }
        struct authz_ident *copy = malloc(sizeof *copy);
        if (copy) {
            *copy = id;
            zhashx_insert(by_key, copy->key, copy);
        }
    }
    closedir(d);
    zlist_destroy(&clashes);
    return by_key;
}

static struct timespec
s_mtime(const char *dir)
{
    struct stat st;
    struct timespec zero = { 0, 0 };
    return stat(dir, &st) == 0 ? st.st_mtim : zero;
}

authz_keys_t *
authz_keys_new(const char *dir)
{
    authz_keys_t *self = calloc(1, sizeof *self);
    if (!self || !(self->dir = strdup(dir))) {
        free(self);
        return NULL;
    }
    self->mtime = s_mtime(dir);
    self->by_key = s_read(self);
    if (!self->by_key) {
        authz_keys_destroy(&self);
        return NULL;
    }
    self->read_us = vtime_mono_us();
    return self;
}

void
authz_keys_destroy(authz_keys_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    authz_keys_t *self = *self_p;
    zhashx_destroy(&self->by_key);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

bool
authz_keys_lookup(authz_keys_t *self, const char *key,
                  struct authz_ident *id)
{
    struct authz_ident *found = zhashx_lookup(self->by_key, key);
    uint64_t now = vtime_mono_us();
    if (!found && now - self->read_us >= 1000000) {
        struct timespec m = s_mtime(self->dir);
        self->read_us = now;
        if (m.tv_sec != self->mtime.tv_sec
            || m.tv_nsec != self->mtime.tv_nsec) {
            zhashx_t *fresh = s_read(self);
            if (fresh) {
                zhashx_destroy(&self->by_key);
                self->by_key = fresh;
                self->mtime = m;
                VLOG_INFO("curve.allowed: read again, %zu identities",
                          zhashx_size(fresh));
            }
            found = zhashx_lookup(self->by_key, key);
        }
    }
    if (found) {
        *id = *found;
        return true;
    }
    memset(id, 0, sizeof *id);
    snprintf(id->label, sizeof id->label, "?");
    snprintf(id->key, sizeof id->key, "%s", key);
    return false;
}

size_t
authz_keys_count(const authz_keys_t *self)
{
    return zhashx_size(self->by_key);
}
