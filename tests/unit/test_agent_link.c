/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_link, the TCP send path: a writer never blocks on a
 * peer that does not read (the socket fills, then the 2 MiB queue, then
 * records are dropped and counted); the queue asks the overlay thread's
 * epoll for room and is written out when there is some; every record
 * arrives whole and in order, none cut short. */
#undef NDEBUG
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_link.h"
#include "vtime.h"

enum { FRAME = 60000 };

static uint8_t s_frame[FRAME];
static uint32_t s_next_id;          /* frame ids seen in order */
static size_t s_got;

static void
s_on_record(const uint8_t *rec, size_t len, void *arg)
{
    struct encap_hdr h;
    assert(encap_decode(rec, len, &h) == ENCAP_OK);
    if (h.type != ENCAP_DATA) {
        return;
    }
    assert(h.frame_len == FRAME && len == ENCAP_HDR_LEN + FRAME);
    assert(h.frame_id == s_next_id);
    s_next_id++;
    /* Every byte of the frame, a pattern that moves with its id. */
    for (size_t i = 0; i < FRAME; i += 997) {
        assert(rec[ENCAP_HDR_LEN + i] == (uint8_t) (i * 7 + h.frame_id));
    }
    s_got++;
}

int
main(void)
{
    int sv[2];
    assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int small = 64 * 1024;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);

    agent_link_t *l = agent_link_new_tcp("t", "127.0.0.1:9");
    assert(l && !l->tcp_q);     /* made when first needed */
    /* As agent_link_tcp_connect and agent_watch_tcp would leave it. */
    int ep = epoll_create1(0);
    assert(ep >= 0);
    l->tcp_fd = sv[0];
    l->tcp_rx.fd = sv[0];
    l->tcp_epoll = ep;
    atomic_store(&l->tcp_broken, false);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &l->tcp_rx };
    assert(epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev) == 0);

    /* The peer reads nothing: sends fill the socket, then the queue, then
     * fail fast, counted; none of it waits. */
    uint64_t t0 = vtime_mono_us();
    size_t sent = 0, dropped = 0;
    for (uint32_t i = 0; i < 200; i++) {
        for (size_t k = 0; k < FRAME; k += 997) {
            s_frame[k] = (uint8_t) (k * 7 + i);
        }
        int rc = agent_link_send(l, AGENT_T_VM, s_frame, FRAME, NULL, 0);
        if (rc == 0) {
            assert(dropped == 0);       /* nothing accepted after a drop */
            sent++;
        } else {
            assert(rc == ENOBUFS);
            dropped++;
            /* The frame id moved on: the next one is not sent either. */
            break;
        }
    }
    uint64_t took_us = vtime_mono_us() - t0;
    printf("sent %zu frames of %d bytes, then dropped; %llu us\n", sent,
           FRAME, (unsigned long long) took_us);
    assert(dropped == 1 && atomic_load(&l->tcp_q_full) == 1);
    assert(sent * (ENCAP_HDR_LEN + FRAME) > AGENT_TCP_QUEUE);
    assert(l->tcp_q && l->tcp_q_len > 0 && l->tcp_q_len <= AGENT_TCP_QUEUE);
    assert(took_us < 1000000);          /* no 200 ms waits */

    /* The queue asked for room; there is none until the peer reads. */
    struct epoll_event got;
    assert(epoll_wait(ep, &got, 1, 0) == 0);

    /* The peer reads: epoll says there is room, the flush writes the
     * queue out, and every record arrives whole and in order. */
    struct agent_tcp_rx rx;
    assert(agent_tcp_rx_init(&rx, AGENT_RX_ACCEPTED, sv[1]) == 0);
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    for (int round = 0; round < 100000 && s_got < sent; round++) {
        assert(agent_tcp_rx_feed(&rx, s_on_record, NULL) == 0);
        if (epoll_wait(ep, &got, 1, 10) == 1) {
            assert(got.data.ptr == &l->tcp_rx);
            if (got.events & EPOLLOUT) {
                assert(agent_link_tcp_flush(l) == 0);
            }
        }
    }
    assert(s_got == sent && l->tcp_q_len == 0);
    /* Empty again: no more waiting for room. */
    assert(epoll_wait(ep, &got, 1, 0) == 0 || !(got.events & EPOLLOUT));

    /* Sending works again, straight through the socket. */
    s_next_id = atomic_load(&l->frame_id[AGENT_T_VM]);
    for (size_t k = 0; k < FRAME; k += 997) {
        s_frame[k] = (uint8_t) (k * 7 + s_next_id);
    }
    assert(agent_link_send(l, AGENT_T_VM, s_frame, FRAME, NULL, 0) == 0);
    for (int round = 0; round < 1000 && s_got == sent; round++) {
        assert(agent_tcp_rx_feed(&rx, s_on_record, NULL) == 0);
        if (epoll_wait(ep, &got, 1, 1) == 1 && (got.events & EPOLLOUT)) {
            agent_link_tcp_flush(l);
        }
    }
    assert(s_got == sent + 1);

    /* A closed peer breaks the link: writers stop, nothing blocks. */
    close(sv[1]);
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) {
        rc = agent_link_send(l, AGENT_T_VM, s_frame, FRAME, NULL, 0);
        if (rc == 0 && l->tcp_q_len > 0) {
            rc = agent_link_tcp_flush(l);
        }
    }
    assert(rc != 0 && atomic_load(&l->tcp_broken));
    assert(agent_link_send(l, AGENT_T_VM, s_frame, 100, NULL, 0)
           == ENOTCONN);

    agent_tcp_rx_uninit(&rx);
    agent_link_destroy(&l);             /* closes sv[0] */
    close(ep);
    printf("test_agent_link: ok\n");
    return 0;
}
