/* SPDX-License-Identifier: MIT */
/* What vnetctl shows of an adapter's path beside its state: the
 * reservation system's connection id (the first word of backend_ref),
 * the provider's three states (NSI: reservation, provision, lifecycle),
 * its error id and the VLAN it chose (the path's vlan, else its detail's
 * "vlan N/M").
 * Used by `reserve show` (ctl_resv.c) and `watch paths` (ctl_watch.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vnetctl.h"

/* The first word of 's' into 'buf' ("" for none or "-"). */
static const char *
s_word(const char *s, char *buf, size_t size)
{
    size_t n = s ? strcspn(s, " ") : 0;
    if (n >= size || (n == 1 && s[0] == '-')) {
        n = 0;
    }
    memcpy(buf, s ? s : "", n);
    buf[n] = '\0';
    return buf;
}

const char *
ctl_path_conn(const Vr__Path *p, char *buf, size_t size)
{
    return s_word(p->backend_ref, buf, size);
}

const char *
ctl_path_vlan(const Vr__Path *p, char *buf, size_t size)
{
    if (p->vlan && p->vlan_dst) {
        snprintf(buf, size, "%u/%u", p->vlan, p->vlan_dst);
        return buf;
    }
    if (p->vlan) {
        snprintf(buf, size, "%u", p->vlan);
        return buf;
    }
    /* Else what the detail says (a provider may give each end its own):
     * "vlan 1781/1782 conn ...": digits and '/' after the word "vlan". */
    const char *d = p->detail ? p->detail : "";
    const char *v = NULL;
    for (const char *s = d; (s = strstr(s, "vlan ")); s++) {
        if (s == d || s[-1] == ' ') {
            v = s + 5;
            break;
        }
    }
    size_t n = v ? strspn(v, "0123456789/") : 0;
    if (n >= size) {
        n = 0;
    }
    memcpy(buf, v ? v : "", n);
    buf[n] = '\0';
    return buf;
}

const char *
ctl_path_provider(const Vr__Path *p, char *buf, size_t size)
{
    char conn[160], vlan[24];
    size_t used = 0;
    buf[0] = '\0';
#define S_ADD(...)                                                         \
    do {                                                                   \
        int n_ = snprintf(buf + used, size - used, __VA_ARGS__);           \
        if (n_ > 0 && (size_t) n_ < size - used) {                         \
            used += (size_t) n_;                                           \
        }                                                                  \
    } while (0)
    if (*ctl_path_conn(p, conn, sizeof conn)) {
        S_ADD(" conn %s", conn);
    }
    if (p->provider_reservation_state && *p->provider_reservation_state) {
        S_ADD(" %s/%s/%s", p->provider_reservation_state,
              p->provider_provision_state, p->provider_lifecycle_state);
    }
    if (*ctl_path_vlan(p, vlan, sizeof vlan)) {
        S_ADD(" vlan %s", vlan);
    }
    if (p->provider_error_id && *p->provider_error_id) {
        S_ADD(" errorId %s", p->provider_error_id);
    }
    if (p->start_us && p->state == VR__PATH_STATE__PATH_STATE_PROVISIONING) {
        /* Booked in the provider's calendar, not started yet. */
        char iso[32];
        time_t t = (time_t) (p->start_us / 1000000);
        struct tm tm;
        if (gmtime_r(&t, &tm)
            && strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
            S_ADD(" booked from %s", iso);
        }
    }
#undef S_ADD
    return buf;
}

json_object *
ctl_path_json(const Vr__Path *p)
{
    char conn[160], vlan[24];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "path_id", json_object_new_string(p->path_id));
    json_object_object_add(o, "state", json_object_new_string(
        ctl_enum_name(&vr__path_state__descriptor, (int) p->state)));
    json_object_object_add(o, "backend", json_object_new_string(p->backend));
    json_object_object_add(o, "detail", json_object_new_string(p->detail));
    json_object_object_add(o, "error", json_object_new_string(p->error));
    json_object_object_add(o, "connection_id", json_object_new_string(
        ctl_path_conn(p, conn, sizeof conn)));
    json_object_object_add(o, "reservation_state", json_object_new_string(
        p->provider_reservation_state));
    json_object_object_add(o, "provision_state", json_object_new_string(
        p->provider_provision_state));
    json_object_object_add(o, "lifecycle_state", json_object_new_string(
        p->provider_lifecycle_state));
    json_object_object_add(o, "error_id", json_object_new_string(
        p->provider_error_id));
    json_object_object_add(o, "vlan", json_object_new_string(
        ctl_path_vlan(p, vlan, sizeof vlan)));
    json_object_object_add(o, "start_us", json_object_new_int64(
        (int64_t) (p->start_us > INT64_MAX ? INT64_MAX : p->start_us)));
    json_object_object_add(o, "end_us", json_object_new_int64(
        (int64_t) (p->end_us > INT64_MAX ? INT64_MAX : p->end_us)));
    return o;
}
