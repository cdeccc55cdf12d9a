/* SPDX-License-Identifier: MIT */
/* vr-garbage: sends every kind of malformed message to a service's socket,
 * for the integration tests.
 *   vr-garbage req ENDPOINT     a control (REP) socket: each bad request
 *                               must be answered with an Error
 *   vr-garbage pub ENDPOINT     connects a PUB to a bound SUB (ingest)
 *   vr-garbage bind-pub ENDPOINT [TOPIC]
 *                               binds a PUB that a service's SUB connects
 *                               to, and publishes for a while
 * Published garbage goes under TOPIC (default matrix.local): a subscriber
 * only sees the topics it subscribed to.
 * Exits 0 when the suite was sent (and, for req, every answer was an
 * Error), 1 otherwise. */
#include <czmq.h>
#include <stdio.h>
#include <string.h>

#include "garbage.h"
#include "msgtype.h"

enum { N_CASES = 9, GIANT = 17 * 1024 * 1024 };

/* Builds case 'i' as a list of frames in 'msg'; returns its name. */
static const char *
s_case(int i, zmsg_t *msg, const char *topic, uint32_t *seed)
{
    uint8_t rnd[300];
    size_t size;
    uint8_t *env;
    static const uint8_t junk_body[] = { 0x0a, 0xff, 0xff, 0xff, 0x0f };

    if (topic) {
        zmsg_addstr(msg, topic);
    }
    switch (i) {
    case 0:
        garbage_random(rnd, sizeof rnd, seed);
        zmsg_addmem(msg, rnd, sizeof rnd);
        return "random bytes";
    case 1:
        zmsg_addmem(msg, "", 0);
        return "empty frame";
    case 2:
        env = garbage_envelope(7, VR__MSG_TYPE__MSG_STATUS_REQUEST, NULL, 0,
                               &size);
        zmsg_addmem(msg, env, size);
        free(env);
        return "wrong version";
    case 3:
        env = garbage_envelope(GARBAGE_V, 4242, NULL, 0, &size);
        zmsg_addmem(msg, env, size);
        free(env);
        return "unknown type";
    case 4:
        env = garbage_envelope(GARBAGE_V, VR__MSG_TYPE__MSG_LOCAL_MATRIX,
                               junk_body, sizeof junk_body, &size);
        zmsg_addmem(msg, env, size);
        free(env);
        return "body does not decode";
    case 5:
        env = garbage_envelope(GARBAGE_V, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                               NULL, 0, &size);
        zmsg_addmem(msg, env, size / 2);
        free(env);
        return "truncated envelope";
    case 6:
        env = garbage_envelope(GARBAGE_V, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                               NULL, 0, &size);
        zmsg_addmem(msg, env, size);
        zmsg_addmem(msg, env, size);
        zmsg_addmem(msg, env, size);
        free(env);
        return "too many frames";
    case 7:
        garbage_random(rnd, 1, seed);
        zmsg_addmem(msg, rnd, 1);
        return "runt";
    default: {
        /* Over the bus's size limit: libzmq drops the connection. */
        zframe_t *f = zframe_new(NULL, GIANT);
        memset(zframe_data(f), 0x41, GIANT);
        zmsg_append(msg, &f);
        return "giant";
    }
    }
}

static int
s_req(const char *endpoint)
{
    uint32_t seed = 1;
    int bad = 0;
    for (int i = 0; i < N_CASES; i++) {
        zsock_t *req = zsock_new_req(endpoint);
        zsock_set_rcvtimeo(req, 2000);
        zmsg_t *msg = zmsg_new();
        const char *name = s_case(i, msg, NULL, &seed);
        zmsg_send(&msg, req);
        zmsg_t *reply = zmsg_recv(req);
        bool giant = i == N_CASES - 1;
        bool is_error = false;
        if (reply && zmsg_size(reply) == 1) {
            zframe_t *f = zmsg_first(reply);
            Vr__Envelope *env = vr__envelope__unpack(NULL, zframe_size(f),
                                                     zframe_data(f));
            is_error = env && env->type == VR__MSG_TYPE__MSG_ERROR;
            vr__envelope__free_unpacked(env, NULL);
        }
        if (giant ? reply != NULL : !is_error) {
            fprintf(stderr, "vr-garbage: %s: case '%s': %s\n", endpoint,
                    name, reply ? "reply is not an Error" : "no reply");
            bad++;
        } else {
            printf("%s: %s: %s\n", endpoint, name,
                   giant ? "dropped by libzmq" : "answered with Error");
        }
        zmsg_destroy(&reply);
        zsock_destroy(&req);
    }
    return bad ? 1 : 0;
}

static int
s_pub(const char *endpoint, bool bind, const char *topic)
{
    zsock_t *pub = zsock_new(ZMQ_PUB);
    zsock_set_sndhwm(pub, 100000);
    if (zsock_attach(pub, endpoint, bind) != 0) {
        fprintf(stderr, "vr-garbage: cannot %s '%s'\n",
                bind ? "bind" : "connect", endpoint);
        zsock_destroy(&pub);
        return 1;
    }
    uint32_t seed = 1;
    /* Subscribers join late; keep at it for a second.  The giant case is
     * left out: a PUB that sends it to a SUB gets the link dropped, which
     * the req mode already shows. */
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N_CASES - 1; i++) {
            zmsg_t *msg = zmsg_new();
            s_case(i, msg, i == 6 ? NULL : topic, &seed);
            zmsg_send(&msg, pub);
        }
        /* Right frames, wrong topic for the type. */
        zmsg_t *msg = zmsg_new();
        size_t size;
        uint8_t *env = garbage_envelope(GARBAGE_V, VR__MSG_TYPE__MSG_ACK,
                                        NULL, 0, &size);
        zmsg_addstr(msg, topic);
        zmsg_addmem(msg, env, size);
        free(env);
        zmsg_send(&msg, pub);
        zclock_sleep(50);
    }
    printf("%s: garbage published\n", endpoint);
    zclock_sleep(200);
    zsock_destroy(&pub);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: vr-garbage req|pub|bind-pub ENDPOINT "
                        "[TOPIC]\n");
        return 2;
    }
    const char *topic = argc == 4 ? argv[3] : TOPIC_LOCAL_MATRIX;
    zsys_set_logstream(stderr);
    if (!strcmp(argv[1], "req")) {
        return s_req(argv[2]);
    }
    if (!strcmp(argv[1], "pub")) {
        return s_pub(argv[2], false, topic);
    }
    if (!strcmp(argv[1], "bind-pub")) {
        return s_pub(argv[2], true, topic);
    }
    fprintf(stderr, "vr-garbage: unknown mode '%s'\n", argv[1]);
    return 2;
}
