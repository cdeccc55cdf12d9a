/* SPDX-License-Identifier: MIT */
/* common/authz: identities from certificate file names, the role and
 * binding checks of a table, and the key table of an allowed directory
 * (duplicates, bad names, keys added while running). */
#undef NDEBUG
#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authz.h"
#include "log.h"
#include "msgtype.h"

static void
test_ident_from_file(void)
{
    struct authz_ident id;
    assert(authz_ident_from_file("agent-h1.key", &id));
    assert(!strcmp(id.role, "agent") && !strcmp(id.name, "h1"));
    assert(!strcmp(id.label, "agent-h1") && !id.key[0]);
    assert(authz_ident_from_file("planner.key", &id));
    assert(!strcmp(id.role, "planner") && !strcmp(id.name, "planner"));
    assert(!strcmp(id.label, "planner"));
    /* Only the first dash splits. */
    assert(authz_ident_from_file("vnetctl-ann-2.key", &id));
    assert(!strcmp(id.role, "vnetctl") && !strcmp(id.name, "ann-2"));

    assert(!authz_ident_from_file("planner.key_secret", &id));
    assert(!authz_ident_from_file(".key", &id));
    assert(!authz_ident_from_file("agent-.key", &id));
    assert(!authz_ident_from_file("-h1.key", &id));
    assert(!authz_ident_from_file("1agent.key", &id));
    assert(!authz_ident_from_file("agent h1.key", &id));
    assert(!authz_ident_from_file("agent-h\n1.key", &id));
    assert(!authz_ident_from_file("README", &id));
    char longname[200];
    memset(longname, 'a', sizeof longname);
    strcpy(longname + 150, ".key");
    assert(!authz_ident_from_file(longname, &id));

    authz_ident_local(&id);
    assert(authz_ident_is_local(&id));
    assert(authz_ident_from_file("local.key", &id));
    strcpy(id.key, "0123456789012345678901234567890123456789");
    assert(!authz_ident_is_local(&id));  /* a key named local is not */

    assert(authz_role_bit("agent") == AUTHZ_AGENT);
    assert(authz_role_bit("vnetctl") == AUTHZ_OPERATOR);
    assert(authz_role_bit("broker") == AUTHZ_BROKER);
    assert(authz_role_bit("") == 0 && authz_role_bit("root") == 0);
}

static const struct authz_rule s_rules[] = {
    { VR__MSG_TYPE__MSG_PATH_CREATE, AUTHZ_BROKER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_TOPOLOGY_QUERY, AUTHZ_ANY, { NULL } },
    { VR__MSG_TYPE__MSG_AGENT_ANNOUNCE, AUTHZ_AGENT, { "agent_id" } },
    { VR__MSG_TYPE__MSG_VM_LOCATIONS, AUTHZ_AGENT,
      { "reporter", "vms.agent_id" } },
    { VR__MSG_TYPE__MSG_LOCAL_MATRIX, AUTHZ_AGENT, { "no_such_field" } },
};

static struct authz_ident
s_ident(const char *file)
{
    struct authz_ident id;
    assert(authz_ident_from_file(file, &id));
    strcpy(id.key, "0123456789012345678901234567890123456789");
    return id;
}

static void
test_check(void)
{
    char why[256];
    size_t n = AUTHZ_N(s_rules);
    struct authz_ident broker = s_ident("broker.key");
    struct authz_ident ops = s_ident("vnetctl-ann.key");
    struct authz_ident planner = s_ident("planner.key");
    struct authz_ident h1 = s_ident("agent-h1.key");
    struct authz_ident anon;
    memset(&anon, 0, sizeof anon);
    strcpy(anon.label, "?");
    struct authz_ident local;
    authz_ident_local(&local);
    Vr__PathCreate pc = VR__PATH_CREATE__INIT;

    assert(authz_find(s_rules, n, VR__MSG_TYPE__MSG_PATH_CREATE)
           == &s_rules[0]);
    assert(!authz_find(s_rules, n, VR__MSG_TYPE__MSG_PLAN_QUERY));

    /* By role. */
    assert(authz_check(s_rules, n, &broker, VR__MSG_TYPE__MSG_PATH_CREATE,
                       &pc.base, why, sizeof why));
    assert(authz_check(s_rules, n, &ops, VR__MSG_TYPE__MSG_PATH_CREATE,
                       &pc.base, why, sizeof why));
    assert(!authz_check(s_rules, n, &planner, VR__MSG_TYPE__MSG_PATH_CREATE,
                        &pc.base, why, sizeof why));
    assert(strstr(why, "planner (role 'planner') may not send PATH_CREATE"));
    assert(!authz_check(s_rules, n, &anon, VR__MSG_TYPE__MSG_PATH_CREATE,
                        &pc.base, why, sizeof why));
    assert(strstr(why, "role 'none'"));
    /* No row: refused, but for StatusRequest, open to any client. */
    Vr__PlanQuery pq = VR__PLAN_QUERY__INIT;
    assert(!authz_check(s_rules, n, &ops, VR__MSG_TYPE__MSG_PLAN_QUERY,
                        &pq.base, why, sizeof why));
    assert(strstr(why, "no client may"));
    Vr__StatusRequest st = VR__STATUS_REQUEST__INIT;
    assert(authz_check(s_rules, n, &anon, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                       &st.base, why, sizeof why));
    assert(authz_check(NULL, 0, &h1, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                       &st.base, why, sizeof why));
    /* AUTHZ_ANY admits the anonymous too. */
    Vr__TopologyQuery tq = VR__TOPOLOGY_QUERY__INIT;
    assert(authz_check(s_rules, n, &anon, VR__MSG_TYPE__MSG_TOPOLOGY_QUERY,
                       &tq.base, why, sizeof why));
    /* The local identity (CURVE off) passes everything. */
    assert(authz_check(s_rules, n, &local, VR__MSG_TYPE__MSG_PLAN_QUERY,
                       &pq.base, why, sizeof why));
    assert(authz_check(NULL, 0, &local, VR__MSG_TYPE__MSG_PATH_CREATE,
                       &pc.base, why, sizeof why));

    /* Bound to the sender's name. */
    Vr__AgentAnnounce ann = VR__AGENT_ANNOUNCE__INIT;
    ann.agent_id = "h1";
    assert(authz_check(s_rules, n, &h1, VR__MSG_TYPE__MSG_AGENT_ANNOUNCE,
                       &ann.base, why, sizeof why));
    ann.agent_id = "h2";
    assert(!authz_check(s_rules, n, &h1, VR__MSG_TYPE__MSG_AGENT_ANNOUNCE,
                        &ann.base, why, sizeof why));
    assert(strstr(why, "agent_id is 'h2', not 'h1'"));
    ann.agent_id = "h1\n\033[2J";
    assert(!authz_check(s_rules, n, &h1, VR__MSG_TYPE__MSG_AGENT_ANNOUNCE,
                        &ann.base, why, sizeof why));
    assert(!strchr(why, '\n') && !strchr(why, '\033'));
    ann.agent_id = (char *) protobuf_c_empty_string;
    assert(!authz_check(s_rules, n, &h1, VR__MSG_TYPE__MSG_AGENT_ANNOUNCE,
                        &ann.base, why, sizeof why));
    ann.agent_id = "h1";
    assert(!authz_check(s_rules, n, &broker,
                        VR__MSG_TYPE__MSG_AGENT_ANNOUNCE, &ann.base, why,
                        sizeof why));

    /* A field of each element of a repeated field. */
    Vr__VmLocation a = VR__VM_LOCATION__INIT, b = VR__VM_LOCATION__INIT;
    Vr__VmLocation *vms[] = { &a, &b };
    Vr__VmLocations vl = VR__VM_LOCATIONS__INIT;
    vl.reporter = "h1";
    vl.vms = vms;
    vl.n_vms = 2;
    a.agent_id = "h1";
    b.agent_id = "h1";
    assert(authz_check(s_rules, n, &h1, VR__MSG_TYPE__MSG_VM_LOCATIONS,
                       &vl.base, why, sizeof why));
    b.agent_id = "h2";
    assert(!authz_check(s_rules, n, &h1, VR__MSG_TYPE__MSG_VM_LOCATIONS,
                        &vl.base, why, sizeof why));
    assert(strstr(why, "vms.agent_id is 'h2'"));
    b.agent_id = "h1";
    vl.reporter = "h2";
    assert(!authz_check(s_rules, n, &h1, VR__MSG_TYPE__MSG_VM_LOCATIONS,
                        &vl.base, why, sizeof why));
    vl.reporter = "h1";
    vl.n_vms = 0;
    assert(authz_check(s_rules, n, &h1, VR__MSG_TYPE__MSG_VM_LOCATIONS,
                       &vl.base, why, sizeof why));

    /* A rule naming a field the message lacks closes, not opens. */
    Vr__LocalMatrix lm = VR__LOCAL_MATRIX__INIT;
    lm.agent_id = "h1";
    assert(!authz_check(s_rules, n, &h1, VR__MSG_TYPE__MSG_LOCAL_MATRIX,
                        &lm.base, why, sizeof why));
    assert(strstr(why, "no such field"));
}

static char *
s_cert(const char *dir, const char *name, zcert_t *cert)
{
    char *path = zsys_sprintf("%s/%s", dir, name);
    assert(zcert_save_public(cert, path) == 0);
    return path;
}

static void
test_keys(void)
{
    char dir[] = "/tmp/test_authz.XXXXXX";
    assert(mkdtemp(dir));
    assert(authz_keys_new("/nonexistent/dir") == NULL);

    zcert_t *h1 = zcert_new(), *planner = zcert_new(), *twice = zcert_new();
    zcert_t *late = zcert_new(), *odd = zcert_new();
    zstr_free((char *[]){ s_cert(dir, "agent-h1.key", h1) });
    zstr_free((char *[]){ s_cert(dir, "planner.key", planner) });
    zstr_free((char *[]){ s_cert(dir, "broker.key", twice) });
    zstr_free((char *[]){ s_cert(dir, "vnetctl.key", twice) });
    zstr_free((char *[]){ s_cert(dir, "bad name.key", odd) });
    char *junk = zsys_sprintf("%s/adapter.key", dir);
    FILE *f = fopen(junk, "w");
    assert(f);
    fputs("not a certificate\n", f);
    fclose(f);
    zstr_free(&junk);
    junk = zsys_sprintf("%s/agent-h3.key", dir);
    f = fopen(junk, "w");
    assert(f);
    fputs("curve\n    public-key = \"tooshort\"\n", f);
    fclose(f);
    zstr_free(&junk);

    authz_keys_t *keys = authz_keys_new(dir);
    assert(keys);
    assert(authz_keys_count(keys) == 2);
    struct authz_ident id;
    assert(authz_keys_lookup(keys, zcert_public_txt(h1), &id));
    assert(!strcmp(id.role, "agent") && !strcmp(id.name, "h1"));
    assert(!strcmp(id.key, zcert_public_txt(h1)));
    assert(authz_keys_lookup(keys, zcert_public_txt(planner), &id));
    assert(!strcmp(id.label, "planner"));
    /* One key in two files is no one; a badly named file is skipped. */
    assert(!authz_keys_lookup(keys, zcert_public_txt(twice), &id));
    assert(!id.role[0] && !id.name[0] && !strcmp(id.label, "?"));
    assert(!authz_keys_lookup(keys, zcert_public_txt(odd), &id));

    /* A key added while running is found once the directory changed. */
    sleep(1);
    zstr_free((char *[]){ s_cert(dir, "agent-h2.key", late) });
    usleep(100 * 1000);
    assert(authz_keys_lookup(keys, zcert_public_txt(late), &id));
    assert(!strcmp(id.label, "agent-h2"));
    assert(authz_keys_count(keys) == 3);
    authz_keys_destroy(&keys);
    authz_keys_destroy(&keys);

    zcert_destroy(&h1);
    zcert_destroy(&planner);
    zcert_destroy(&twice);
    zcert_destroy(&late);
    zcert_destroy(&odd);
    char *cmd = zsys_sprintf("rm -rf '%s'", dir);
    assert(system(cmd) == 0);
    zstr_free(&cmd);
}

int
main(void)
{
    log_init("test_authz");
    test_ident_from_file();
    test_check();
    test_keys();
    printf("test_authz: ok\n");
    return 0;
}
