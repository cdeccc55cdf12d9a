/* SPDX-License-Identifier: MIT */
/* Who is calling, and may they: identities proved by the CURVE handshake and
 * the authorization table each service declares.  A CURVE client's identity
 * is the name of its public certificate in the server's curve.allowed
 * directory: '<role>.key' (e.g. "planner.key") or '<role>-<name>.key' (e.g.
 * "agent-h1.key": role agent, name h1).  zauth admits the key and libzmq
 * hands its Z85 text to us as the "User-Id" of every frame; authz_keys maps
 * it back to the file.  With CURVE off (the one-machine default) every peer
 * is the one local identity, which every rule admits.  common/bus.c applies
 * a table to each message received on a socket it bound (bus_recv()). */
#ifndef VR_AUTHZ_H
#define VR_AUTHZ_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    AUTHZ_ROLE_SIZE = 32,       /* bytes of a role, with its NUL */
    AUTHZ_NAME_SIZE = 64,       /* bytes of a name, with its NUL */
    AUTHZ_KEY_SIZE = 41,        /* Z85 public key, with its NUL */
    AUTHZ_MAX_KEYS = 4096,      /* certificates one allowed dir may hold */
    AUTHZ_MAX_BIND = 3,         /* fields one rule may bind */
};

/* The identity of a peer. */
struct authz_ident {
    char role[AUTHZ_ROLE_SIZE]; /* "agent", "planner", "vnetctl"...; "local"
                                 * with CURVE off; "" for a key that is in
                                 * no file (curve.allow_any) */
    char name[AUTHZ_NAME_SIZE]; /* "h1" for agent-h1.key; the role for
                                 * <role>.key; "" when anonymous */
    char label[AUTHZ_ROLE_SIZE + AUTHZ_NAME_SIZE]; /* the file's stem,
                                 * "agent-h1", "planner": what the peer is
                                 * called in logs and owns */
    char key[AUTHZ_KEY_SIZE];   /* Z85 public key; "" when local */
};

/* Roles, as bits of a rule. */
enum {
    AUTHZ_AGENT = 1u << 0,      /* vnet-agent, "agent" */
    AUTHZ_AGGREGATOR = 1u << 1, /* vttif-aggregator, "aggregator" */
    AUTHZ_PLANNER = 1u << 2,    /* vadapt-planner, "planner" */
    AUTHZ_BROKER = 1u << 3,     /* vreserve-broker, "broker" */
    AUTHZ_ADAPTER = 1u << 4,    /* odin-adapter, "adapter" */
    AUTHZ_OPERATOR = 1u << 5,   /* an operator's vnetctl, "vnetctl" */
    AUTHZ_ANY = 1u << 31,       /* any client CURVE admitted, even one with
                                 * no role (curve.allow_any) */
};

/* One row of a service's table: who may send it messages of 'type'. */
struct authz_rule {
    int type;                   /* Vr__MsgType */
    unsigned roles;             /* AUTHZ_* bits */
    /* String fields of the message that must equal the sender's name:
     * "agent_id", or "vms.agent_id" for a field of each element of a
     * repeated (or single) message field.  Unused slots are NULL. */
    const char *bind[AUTHZ_MAX_BIND];
};

/* The number of rows of a table declared as an array. */
#define AUTHZ_N(RULES) (sizeof(RULES) / sizeof((RULES)[0]))

/* Fills '*id' with the local identity (CURVE off). */
void authz_ident_local(struct authz_ident *id);

/* True if 'id' is the local identity. */
bool authz_ident_is_local(const struct authz_ident *id);

/* Parses certificate file name 'file' ("agent-h1.key") into '*id' (key
 * left empty).  Returns false for a name that is not '<stem>.key' or whose
 * stem is not 1 to 63 of [A-Za-z0-9._-] starting with a letter, or whose
 * role or name part is empty. */
bool authz_ident_from_file(const char *file, struct authz_ident *id);

/* The AUTHZ_* bit of role 'role', or 0 for a role no rule names. */
unsigned authz_role_bit(const char *role);

/* Returns the rule for 'type' in 'rules' ('n_rules' rows), or NULL. */
const struct authz_rule *authz_find(const struct authz_rule *rules,
                                    size_t n_rules, int type);

/* Decides whether 'from' may send 'body', a message of 'type', to a
 * service with table 'rules'.  The local identity may send anything.
 * StatusRequest, which the runtime answers for every service, is open to
 * any admitted client unless the table has a row for it; any other type
 * without a row is refused.  Returns true when allowed; false with a
 * sentence (safe to log and to send) in 'why'. */
bool authz_check(const struct authz_rule *rules, size_t n_rules,
                 const struct authz_ident *from, int type,
                 const ProtobufCMessage *body, char *why, size_t why_size);

/* The keys of an allowed directory, by Z85 public key. */
typedef struct authz_keys authz_keys_t;

/* Reads every '*.key' certificate in 'dir' (at most AUTHZ_MAX_KEYS; a
 * file that does not load, or whose name is not an identity, is skipped
 * with a warning; a key found in two files maps to no identity).  Returns
 * NULL with the reason logged if 'dir' cannot be read.  The caller owns
 * the result. */
authz_keys_t *authz_keys_new(const char *dir);

/* Frees '*self_p' if not NULL, then sets it to NULL. */
void authz_keys_destroy(authz_keys_t **self_p);

/* Fills '*id' with the identity of Z85 key 'key'; returns false (and an
 * anonymous '*id': role and name "", label "?", the key) when no file has
 * it.  A miss reads the directory again, at most once a second, so keys
 * added while running are found as zauth finds them. */
bool authz_keys_lookup(authz_keys_t *self, const char *key,
                       struct authz_ident *id);

/* The number of identities read. */
size_t authz_keys_count(const authz_keys_t *self);

#endif /* VR_AUTHZ_H */
