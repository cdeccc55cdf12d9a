/* SPDX-License-Identifier: MIT */
/* Unit test for the odin-adapter's NSI CS 2.0 SOAP requester
 * (services/odin-adapter/adapter_nsi_soap): the 'nsi:' config and its
 * checks (plain HTTP only to loopback unless switched on, NSA ids, host
 * map, VLANs, deadlines, TLS files), STP and VLAN parsing, the envelope
 * builders (checked by libxml2 and field by field, every value escaped,
 * bad values refused), the reply parser on replies shaped as OpenNSA's
 * (acks, reserveResponse, querySummarySyncConfirmed, faults) and on
 * hostile ones (malformed, oversize, DTDs, entities, markup in fields,
 * out-of-range numbers, unknown states, wrong operation, another
 * correlationId, control characters), and the client against a closed
 * port and over its call limit. */
#undef NDEBUG

#include "adapter_nsi_soap.h"
#include "cfg.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>

#define CORR "urn:uuid:11111111-2222-4333-8444-555555555555"
#define MAX (64 * 1024)

static const char s_base_yaml[] =
    "nsi:\n"
    "  provider_url: http://127.0.0.1:9/NSI/services/CS2\n"
    "  provider_nsa: urn:ogf:network:example.net:2025:nsa\n"
    "  requester_nsa: urn:ogf:network:vreserve.test:2026:nsa\n"
    "  network: example.net:2025:topology\n"
    "  hold_timeout_ms: 3000\n"
    "  commit_deadline_ms: 2000\n"
    "  request_timeout_ms: 1000\n"
    "  connect_timeout_ms: 500\n"
    "  hosts:\n"
    "    - {ip: 10.210.0.1, stp: A, vlans: 1780-1789}\n"
    "    - {ip: '2001:db8::2', stp: 'urn:ogf:network:other.net:2025:x:B', "
    "vlans: '1785'}\n";

/* Loads 's_base_yaml' with 'extra' appended (more "  key: value" lines
 * under nsi:) into '*cfg'; returns cfg_load's result and the check's. */
static bool
s_load(struct adapter_nsi_config *cfg, const char *extra, char *err,
       size_t errsize)
{
    char yaml[4096];
    size_t len = 0;
    const char *line = s_base_yaml;

    /* The base's lines, less the "  key:" ones 'extra' sets again. */
    while (*line) {
        const char *eol = strchr(line, '\n') + 1;
        const char *colon = strchr(line, ':');
        bool keep = true;
        if (!strncmp(line, "  ", 2) && line[2] != ' ' && colon && colon < eol) {
            char key[64];
            snprintf(key, sizeof key, "\n%.*s", (int) (colon - line + 1), line);
            char ex[2048];
            snprintf(ex, sizeof ex, "\n%s", extra);
            keep = !strstr(ex, key);
        }
        if (keep) {
            memcpy(yaml + len, line, (size_t) (eol - line));
            len += (size_t) (eol - line);
        }
        line = eol;
    }
    snprintf(yaml + len, sizeof yaml - len, "%s", extra);
    memset(cfg, 0, sizeof *cfg);
    if (cfg_load_string(adapter_nsi_keys, cfg, "test", yaml, strlen(yaml), err,
                        errsize)) {
        return false;
    }
    return adapter_nsi_config_check(cfg, err, errsize);
}

/* True if 'extra' makes the config invalid with 'want' in the reason. */
static bool
s_refused(const char *extra, const char *want)
{
    struct adapter_nsi_config cfg;
    char err[512] = "";
    bool ok = s_load(&cfg, extra, err, sizeof err);
    cfg_free(adapter_nsi_keys, &cfg);
    if (ok || !strstr(err, want)) {
        fprintf(stderr, "config '%s': %s (wanted '%s')\n", extra,
                ok ? "accepted" : err, want);
        return false;
    }
    return true;
}

static void
test_config(void)
{
    struct adapter_nsi_config cfg;
    struct adapter_nsi_end e;
    char err[512];

    assert(s_load(&cfg, "", err, sizeof err));
    assert(cfg.hosts.n == 2 && cfg.poll_ms == ADAPTER_NSI_DEFAULT_POLL_MS);
    assert(!strcmp(cfg.reply_to, ADAPTER_NSI_DEFAULT_REPLY_TO));
    assert(adapter_nsi_host_end(&cfg, "10.210.0.1", &e, err, sizeof err));
    assert(!strcmp(e.stp, "urn:ogf:network:example.net:2025:topology:A"));
    assert(e.vlan_lo == 1780 && e.vlan_hi == 1789);
    assert(adapter_nsi_host_end(&cfg, "2001:db8:0::2", &e, err, sizeof err));
    assert(!strcmp(e.stp, "urn:ogf:network:other.net:2025:x:B"));
    assert(e.vlan_lo == 1785 && e.vlan_hi == 1785);
    assert(!adapter_nsi_host_end(&cfg, "10.210.0.9", &e, err, sizeof err));
    assert(strstr(err, "no port in nsi.hosts"));
    assert(!adapter_nsi_host_end(&cfg, "h1; rm -rf", &e, err, sizeof err));
    assert(strstr(err, "not an IP address"));
    cfg_free(adapter_nsi_keys, &cfg);

    /* loopback http is fine in every spelling */
    assert(s_load(&cfg, "  provider_url: http://localhost:80/x\n", err,
                  sizeof err) || (fprintf(stderr, "%s\n", err), 0));
    cfg_free(adapter_nsi_keys, &cfg);
    assert(s_load(&cfg, "  provider_url: 'http://[::1]:8080/x'\n", err,
                  sizeof err));
    cfg_free(adapter_nsi_keys, &cfg);
    assert(s_load(&cfg, "  provider_url: https://nsi.example.net/CS2\n", err,
                  sizeof err));
    cfg_free(adapter_nsi_keys, &cfg);
    /* plain http elsewhere only with the switch */
    assert(s_refused("  provider_url: http://192.0.2.7/CS2\n",
                     "not loopback"));
    assert(s_load(&cfg, "  provider_url: http://192.0.2.7/CS2\n"
                  "  allow_plain_http: true\n", err, sizeof err));
    cfg_free(adapter_nsi_keys, &cfg);
    assert(s_refused("  provider_url: ftp://127.0.0.1/x\n", "scheme"));
    assert(s_refused("  provider_url: 'not a url'\n", "not a URL"));
    assert(s_refused("  provider_nsa: example.net:nsa\n", "provider_nsa"));
    assert(s_refused("  requester_nsa: 'urn:ogf:network:a b'\n",
                     "requester_nsa"));
    assert(s_refused("  network: 'a<b'\n", "nsi.network"));
    assert(s_refused("  commit_deadline_ms: 3000\n", "commit_deadline_ms"));
    assert(s_refused("  connect_timeout_ms: 2000\n", "connect_timeout_ms"));
    assert(s_refused("  tls: {cert: /etc/hostname}\n", "go together"));
    assert(s_refused("  provider_url: https://x.example/\n"
                     "  tls: {ca: /nonexistent/ca.pem}\n", "cannot read"));
    assert(s_refused("  tls: {ca: /etc/hostname}\n", "not https"));
    assert(s_refused("    - {ip: 10.210.0.1, stp: C, vlans: 1}\n",
                     "also hosts[0]"));
    assert(s_refused("    - {ip: h3, stp: C, vlans: 1}\n", "not an IP"));
    assert(s_refused("    - {ip: 10.0.0.3, stp: 'C?vlan=1', vlans: 1}\n",
                     "not an STP"));
    assert(s_refused("    - {ip: 10.0.0.3, stp: C, vlans: 0}\n", "vlans"));
    assert(s_refused("    - {ip: 10.0.0.3, stp: C, vlans: 4095}\n", "vlans"));
    assert(s_refused("    - {ip: 10.0.0.3, stp: C, vlans: 1789-1780}\n",
                     "vlans"));
    assert(s_refused("    - {ip: 10.0.0.3, stp: C, vlans: '17x'}\n", "vlans"));
    assert(s_refused("    - {ip: 10.0.0.3, stp: C}\n", "vlans"));
    assert(s_refused("  max_reply_kb: 1\n", "max_reply_kb"));
    assert(s_refused("  bogus: 1\n", "bogus"));
}

static void
test_stp(void)
{
    struct adapter_nsi_end e;
    uint16_t lo, hi;

    assert(adapter_nsi_parse_stp("urn:ogf:network:example.net:2025:t:A?vlan=1780",
                                 &e));
    assert(!strcmp(e.stp, "urn:ogf:network:example.net:2025:t:A"));
    assert(e.vlan_lo == 1780 && e.vlan_hi == 1780);
    assert(adapter_nsi_parse_stp("urn:ogf:network:x:A?vlan=2-4094", &e));
    assert(e.vlan_lo == 2 && e.vlan_hi == 4094);
    assert(!adapter_nsi_parse_stp("urn:ogf:network:x:A", &e));
    assert(!adapter_nsi_parse_stp("urn:ogf:network:x:A?vlan=", &e));
    assert(!adapter_nsi_parse_stp("urn:ogf:network:x:A?vlan=5000", &e));
    assert(!adapter_nsi_parse_stp("urn:ogf:network:x:A?vlan=1?vlan=2", &e));
    assert(!adapter_nsi_parse_stp("urn:ogf:network:?vlan=1", &e));
    assert(!adapter_nsi_parse_stp("http://x/A?vlan=1", &e));
    assert(!adapter_nsi_parse_stp("urn:ogf:network:x:<A>?vlan=1", &e));
    assert(!adapter_nsi_parse_stp("urn:ogf:network:x:A B?vlan=1", &e));
    assert(adapter_nsi_parse_vlans("1", &lo, &hi) && lo == 1 && hi == 1);
    assert(!adapter_nsi_parse_vlans("-1", &lo, &hi));
    assert(!adapter_nsi_parse_vlans("1-", &lo, &hi));
    assert(!adapter_nsi_parse_vlans("00001", &lo, &hi));
    assert(!adapter_nsi_parse_vlans("1,2", &lo, &hi));
    assert(!adapter_nsi_parse_vlans("", &lo, &hi));
}

/* Parses an envelope we built and returns the document (well-formed or
 * the test fails). */
static xmlDoc *
s_wellformed(const char *buf, size_t len)
{
    xmlDoc *doc = xmlReadMemory(buf, (int) len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR
                                | XML_PARSE_NOWARNING);
    assert(doc);
    return doc;
}

static void
test_build(const struct adapter_nsi_config *cfg)
{
    char buf[8192], err[256];
    size_t len;
    struct adapter_nsi_call c = { .op = ADAPTER_NSI_OP_RESERVE };

    assert(adapter_nsi_parse_stp("urn:ogf:network:example.net:2025:t:A?vlan=1780-1789",
                                 &c.src));
    assert(adapter_nsi_parse_stp("urn:ogf:network:example.net:2025:t:B?vlan=1781",
                                 &c.dst));
    c.global_id = "urn:uuid:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    c.description = "path <p-1> & \"friends\"";
    c.capacity_mbps = 250;
    len = adapter_nsi_soap_build(cfg, &c, CORR, buf, sizeof buf, err,
                                 sizeof err);
    assert(len && len == strlen(buf));
    xmlFreeDoc(s_wellformed(buf, len));
    assert(strstr(buf, "<correlationId>" CORR "</correlationId>"));
    assert(strstr(buf, "<requesterNSA>urn:ogf:network:vreserve.test:2026:nsa"
                       "</requesterNSA>"));
    assert(strstr(buf, "<providerNSA>urn:ogf:network:example.net:2025:nsa"));
    assert(!strstr(buf, "replyTo"));
    assert(strstr(buf, "<type:reserve><globalReservationId>urn:uuid:aaaaaaaa"));
    assert(strstr(buf, "<description>path &lt;p-1&gt; &amp; &quot;friends"
                       "&quot;</description>"));
    assert(strstr(buf, "<schedule></schedule>"));   /* start now, no end */
    assert(strstr(buf, "<capacity>250</capacity>"));
    assert(strstr(buf, "<sourceSTP>urn:ogf:network:example.net:2025:t:A"
                       "?vlan=1780-1789</sourceSTP>"));
    assert(strstr(buf, "<destSTP>urn:ogf:network:example.net:2025:t:B"
                       "?vlan=1781</destSTP>"));
    assert(strstr(buf, "xmlns:p2p=\"http://schemas.ogf.org/nsi/2013/12/"
                       "services/point2point\""));

    /* a schedule; the configured capacity when none is given */
    c.start_ms = INT64_C(1796558400123);    /* 2026-12-06T12:00:00.123Z */
    c.end_ms = c.start_ms + 3600000;
    c.capacity_mbps = 0;
    c.global_id = NULL;
    c.description = NULL;
    len = adapter_nsi_soap_build(cfg, &c, CORR, buf, sizeof buf, err,
                                 sizeof err);
    assert(len);
    assert(strstr(buf, "<schedule><startTime>2026-12-06T12:00:00.123Z"
                       "</startTime><endTime>2026-12-06T13:00:00.123Z"
                       "</endTime></schedule>"));
    assert(strstr(buf, "<capacity>1000</capacity>"));
    assert(!strstr(buf, "globalReservationId") && !strstr(buf, "<description>"));

    /* refused */
    c.end_ms = c.start_ms;
    assert(!adapter_nsi_soap_build(cfg, &c, CORR, buf, sizeof buf, err,
                                   sizeof err));
    assert(strstr(err, "schedule"));
    c.end_ms = 0;
    c.start_ms = 5;
    assert(!adapter_nsi_soap_build(cfg, &c, CORR, buf, sizeof buf, err,
                                   sizeof err));
    c.start_ms = 0;
    c.capacity_mbps = ADAPTER_NSI_MAX_CAPACITY + 1;
    assert(!adapter_nsi_soap_build(cfg, &c, CORR, buf, sizeof buf, err,
                                   sizeof err));
    c.capacity_mbps = 0;
    c.global_id = "no colon";
    assert(!adapter_nsi_soap_build(cfg, &c, CORR, buf, sizeof buf, err,
                                   sizeof err));
    c.global_id = NULL;
    c.dst.vlan_hi = 4095;
    assert(!adapter_nsi_soap_build(cfg, &c, CORR, buf, sizeof buf, err,
                                   sizeof err));
    assert(strstr(err, "destination"));
    c.dst.vlan_hi = 1781;
    strcpy(c.src.stp, "urn:ogf:network:x:A</sourceSTP><evil/>");
    assert(!adapter_nsi_soap_build(cfg, &c, CORR, buf, sizeof buf, err,
                                   sizeof err));
    assert(strstr(err, "source"));
    strcpy(c.src.stp, "urn:ogf:network:x:A");
    c.connection_id = "EX-1";
    assert(!adapter_nsi_soap_build(cfg, &c, CORR, buf, sizeof buf, err,
                                   sizeof err));
    c.connection_id = NULL;
    assert(!adapter_nsi_soap_build(cfg, &c, "not-a-urn", buf, sizeof buf,
                                   err, sizeof err));
    assert(!adapter_nsi_soap_build(cfg, &c, CORR, buf, 200, err, sizeof err));
    assert(strstr(err, "over 200 bytes") && !buf[0]);

    /* the others: connectionId only */
    static const struct { enum adapter_nsi_op op; const char *el; } ops[] = {
        { ADAPTER_NSI_OP_RESERVE_COMMIT, "<type:reserveCommit><connectionId>"
                                         "EX-7a:b.c_d</connectionId>" },
        { ADAPTER_NSI_OP_RESERVE_ABORT, "<type:reserveAbort>" },
        { ADAPTER_NSI_OP_PROVISION, "<type:provision>" },
        { ADAPTER_NSI_OP_RELEASE, "<type:release>" },
        { ADAPTER_NSI_OP_TERMINATE, "<type:terminate>" },
        { ADAPTER_NSI_OP_QUERY, "<type:querySummarySync><connectionId>" },
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        struct adapter_nsi_call o = { .op = ops[i].op,
                                      .connection_id = "EX-7a:b.c_d" };
        len = adapter_nsi_soap_build(cfg, &o, CORR, buf, sizeof buf, err,
                                     sizeof err);
        assert(len);
        xmlFreeDoc(s_wellformed(buf, len));
        assert(strstr(buf, ops[i].el));
        /* replyTo only where OpenNSA demands it */
        assert(!strstr(buf, "<replyTo>") == (ops[i].op != ADAPTER_NSI_OP_QUERY));
        o.connection_id = "EX 1";
        assert(!adapter_nsi_soap_build(cfg, &o, CORR, buf, sizeof buf, err,
                                       sizeof err));
        o.connection_id = "EX-<1>";
        assert(!adapter_nsi_soap_build(cfg, &o, CORR, buf, sizeof buf, err,
                                       sizeof err));
        o.connection_id = "";
        assert(!adapter_nsi_soap_build(cfg, &o, CORR, buf, sizeof buf, err,
                                       sizeof err));
        o.connection_id = NULL;
        len = adapter_nsi_soap_build(cfg, &o, CORR, buf, sizeof buf, err,
                                     sizeof err);
        assert(!len == (ops[i].op != ADAPTER_NSI_OP_QUERY));
    }
    struct adapter_nsi_call all = { .op = ADAPTER_NSI_OP_QUERY };
    assert(adapter_nsi_soap_build(cfg, &all, CORR, buf, sizeof buf, err,
                                  sizeof err));
    assert(strstr(buf, "<type:querySummarySync/>"));
    assert(strstr(buf, "<replyTo>" ADAPTER_NSI_DEFAULT_REPLY_TO "</replyTo>"));
    char id[200];
    memset(id, 'a', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    struct adapter_nsi_call longid = { .op = ADAPTER_NSI_OP_TERMINATE,
                                       .connection_id = id };
    assert(!adapter_nsi_soap_build(cfg, &longid, CORR, buf, sizeof buf, err,
                                   sizeof err));

    char u1[64], u2[64];
    adapter_nsi_new_uuid(u1, sizeof u1);
    adapter_nsi_new_uuid(u2, sizeof u2);
    assert(strlen(u1) == 45 && !strncmp(u1, "urn:uuid:", 9) && u1[23] == '4');
    assert(strcmp(u1, u2));
}

/* Replies shaped as OpenNSA's. */
#define ENV_OPEN \
    "<soap:Envelope xmlns:ctypes=\"http://schemas.ogf.org/nsi/2013/12/connection/types\"" \
    " xmlns:header=\"http://schemas.ogf.org/nsi/2013/12/framework/headers\"" \
    " xmlns:p2psrv=\"http://schemas.ogf.org/nsi/2013/12/services/point2point\"" \
    " xmlns:ftypes=\"http://schemas.ogf.org/nsi/2013/12/framework/types\"" \
    " xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\n" \
    "  <soap:Header>\n    <header:nsiHeader>\n" \
    "      <protocolVersion>application/vnd.ogf.nsi.cs.v2.provider+soap</protocolVersion>\n" \
    "      <correlationId>" CORR "</correlationId>\n" \
    "      <requesterNSA>urn:ogf:network:vreserve.test:2026:nsa</requesterNSA>\n" \
    "      <providerNSA>urn:ogf:network:example.net:2025:nsa</providerNSA>\n" \
    "    </header:nsiHeader>\n  </soap:Header>\n  <soap:Body>\n"
#define ENV_CLOSE "  </soap:Body>\n</soap:Envelope>\n"

#define RESV(CID, RSM, PSM, LSM, ACTIVE, SRC, DST, CAP)                     \
    "<reservation><connectionId>" CID "</connectionId>"                    \
    "<globalReservationId>urn:uuid:b87ad67b-c84e-4bbc-8d37-0b7b5a725157"   \
    "</globalReservationId><description>vr &amp; cli</description>"       \
    "<criteria version=\"0\"><schedule><startTime>2026-12-06T12:00:00Z"     \
    "</startTime></schedule>"                                              \
    "<serviceType>http://services.ogf.org/nsi/2013/07/descriptions/EVTS.A-GOLE" \
    "</serviceType><children /><p2psrv:p2ps><capacity>" CAP "</capacity>"   \
    "<directionality>Bidirectional</directionality>"                      \
    "<symmetricPath>false</symmetricPath><sourceSTP>" SRC "</sourceSTP>"   \
    "<destSTP>" DST "</destSTP></p2psrv:p2ps></criteria>"                  \
    "<requesterNSA>urn:ogf:network:vreserve.test:2026:nsa</requesterNSA>"  \
    "<connectionStates><reservationState>" RSM "</reservationState>"       \
    "<provisionState>" PSM "</provisionState><lifecycleState>" LSM          \
    "</lifecycleState><dataPlaneStatus><active>" ACTIVE "</active>"         \
    "<version>0</version><versionConsistent>true</versionConsistent>"      \
    "</dataPlaneStatus></connectionStates><notificationId>1833"            \
    "</notificationId><resultId>0</resultId></reservation>\n"
#define STP_A "urn:ogf:network:example.net:2025:topology:A?vlan=1781"
#define STP_B "urn:ogf:network:example.net:2025:topology:B?vlan=1780-1789"
#define QUERY(...) ENV_OPEN "<ctypes:querySummarySyncConfirmed>" __VA_ARGS__ \
    "</ctypes:querySummarySyncConfirmed>" ENV_CLOSE
#define FAULT(ID, TEXT) \
    "<soap:Envelope xmlns:ftypes=\"http://schemas.ogf.org/nsi/2013/12/framework/types\"" \
    " xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header />" \
    "<soap:Body><soap:Fault><faultcode>soap:Server</faultcode>" \
    "<faultstring>" TEXT "</faultstring><detail><ftypes:serviceException>" \
    "<nsaId>urn:ogf:network:example.net:2025:nsa</nsaId>" \
    "<connectionId>EX-nope</connectionId><errorId>" ID "</errorId>" \
    "<text>" TEXT "</text></ftypes:serviceException></detail></soap:Fault>" \
    "</soap:Body></soap:Envelope>"

static enum adapter_nsi_status
s_parse(enum adapter_nsi_op op, long code, const char *body,
        struct adapter_nsi_result *res)
{
    adapter_nsi_result_clean(res);
    return adapter_nsi_soap_parse(op, code, body, strlen(body), MAX, CORR,
                                  res);
}

/* Expects FAILED with 'want' in the message. */
static void
s_bad(enum adapter_nsi_op op, long code, const char *body, const char *want)
{
    struct adapter_nsi_result res = { 0 };
    enum adapter_nsi_status st = s_parse(op, code, body, &res);
    if (st != ADAPTER_NSI_FAILED || !strstr(res.error, want)) {
        fprintf(stderr, "status %d error '%s', wanted FAILED '%s'\n", st,
                res.error, want);
        abort();
    }
    assert(!res.resv && !res.n_resv);
    adapter_nsi_result_clean(&res);
}

static void
test_parse_good(void)
{
    struct adapter_nsi_result res = { 0 };

    assert(s_parse(ADAPTER_NSI_OP_RESERVE, 200, ENV_OPEN
                   "<ctypes:reserveResponse><connectionId>EX-7a7adc1029"
                   "</connectionId></ctypes:reserveResponse>" ENV_CLOSE,
                   &res) == ADAPTER_NSI_OK);
    assert(!strcmp(res.connection_id, "EX-7a7adc1029") && res.http_code == 200);
    for (int op = ADAPTER_NSI_OP_RESERVE_COMMIT; op < ADAPTER_NSI_OP_QUERY;
         op++) {
        assert(s_parse((enum adapter_nsi_op) op, 200, ENV_OPEN
                       "<ctypes:acknowledgment/>" ENV_CLOSE, &res)
               == ADAPTER_NSI_OK);
    }
    /* no header at all is accepted (the correlation is the HTTP exchange) */
    assert(s_parse(ADAPTER_NSI_OP_PROVISION, 200,
                   "<S:Envelope xmlns:S='http://schemas.xmlsoap.org/soap/envelope/'"
                   " xmlns:t='http://schemas.ogf.org/nsi/2013/12/connection/types'>"
                   "<S:Body><t:acknowledgment/></S:Body></S:Envelope>", &res)
           == ADAPTER_NSI_OK);

    assert(s_parse(ADAPTER_NSI_OP_QUERY, 200, QUERY(
                   RESV("EX-1", "ReserveHeld", "Released", "Created", "false",
                        STP_A, STP_B, "1000")
                   RESV("EX-2", "ReserveStart", "Provisioned", "Created", "true",
                        STP_A, STP_A, "0")), &res) == ADAPTER_NSI_OK);
    assert(res.n_resv == 2 && res.resv);
    const struct adapter_nsi_reservation *r = &res.resv[0];
    assert(!strcmp(r->connection_id, "EX-1"));
    assert(!strcmp(r->global_id, "urn:uuid:b87ad67b-c84e-4bbc-8d37-0b7b5a725157"));
    assert(!strcmp(r->description, "vr & cli"));
    assert(!strcmp(r->start_time, "2026-12-06T12:00:00Z") && !r->end_time[0]);
    assert(r->capacity_mbps == 1000);
    assert(!strcmp(r->src.stp, "urn:ogf:network:example.net:2025:topology:A"));
    assert(r->src.vlan_lo == 1781 && r->src.vlan_hi == 1781);
    assert(r->dst.vlan_lo == 1780 && r->dst.vlan_hi == 1789);
    assert(r->states.rsm == ADAPTER_NSI_RSM_HELD
           && r->states.psm == ADAPTER_NSI_PSM_RELEASED
           && r->states.lsm == ADAPTER_NSI_LSM_CREATED && !r->states.active);
    r = &res.resv[1];
    assert(r->states.psm == ADAPTER_NSI_PSM_PROVISIONED && r->states.active);
    assert(r->capacity_mbps == 0);

    /* an unknown id: 200 and nothing */
    assert(s_parse(ADAPTER_NSI_OP_QUERY, 200, QUERY(""), &res)
           == ADAPTER_NSI_OK && res.n_resv == 0 && !res.resv);
    /* CDATA and white space around values */
    assert(s_parse(ADAPTER_NSI_OP_RESERVE, 200, ENV_OPEN
                   "<ctypes:reserveResponse><connectionId>\n <![CDATA[EX-9]]>"
                   " </connectionId></ctypes:reserveResponse>" ENV_CLOSE, &res)
           == ADAPTER_NSI_OK && !strcmp(res.connection_id, "EX-9"));
    adapter_nsi_result_clean(&res);
}

static void
test_parse_faults(void)
{
    struct adapter_nsi_result res = { 0 };

    assert(s_parse(ADAPTER_NSI_OP_RESERVE, 500, FAULT("00704",
                   "STP &lt;STP example.net:2025:topology:A?vlan=1780&gt; not "
                   "available in specified time span"), &res)
           == ADAPTER_NSI_FAULT);
    assert(!strcmp(res.error_id, "00704"));
    assert(!strcmp(res.error, "STP <STP example.net:2025:topology:A?vlan=1780> "
                              "not available in specified time span"));
    assert(!strcmp(res.connection_id, "EX-nope"));
    assert(s_parse(ADAPTER_NSI_OP_RESERVE_COMMIT, 500, FAULT("00500",
                   "Transition from state ReserveStart to ReserveComitting not "
                   "allowed"), &res) == ADAPTER_NSI_FAULT);
    assert(!strcmp(res.error_id, "00500") && strstr(res.error, "Transition"));
    /* faultstring only (OpenNSA's parse errors) */
    assert(s_parse(ADAPTER_NSI_OP_QUERY, 500,
                   "<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'>"
                   "<soap:Body><soap:Fault><faultcode>soap:Client</faultcode>"
                   "<faultstring>querySummarySync without a replyTo"
                   "</faultstring></soap:Fault></soap:Body></soap:Envelope>",
                   &res) == ADAPTER_NSI_FAULT);
    assert(!res.error_id[0] && strstr(res.error, "without a replyTo"));
    /* hostile text: escaped, cut, never raw */
    assert(s_parse(ADAPTER_NSI_OP_TERMINATE, 500, FAULT("00204",
                   "[31mred&#10;line&#x7f;\xc3\xa9"), &res)
           == ADAPTER_NSI_FAULT);
    assert(!strchr(res.error, '\n') && !strchr(res.error, '\x7f'));
    assert(strstr(res.error, "[31mred\\x0aline\\x7f\\xc3\\xa9"));
    /* a raw control character is not XML at all */
    s_bad(ADAPTER_NSI_OP_TERMINATE, 500, FAULT("00204", "\x1b[31m"),
          "not well-formed");
    char big[MAX];
    snprintf(big, sizeof big, "%s", FAULT("00100", "%s"));
    char text[4000];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    char body[MAX];
    snprintf(body, sizeof body, big, text, text);
    assert(s_parse(ADAPTER_NSI_OP_RESERVE, 500, body, &res) == ADAPTER_NSI_FAULT);
    assert(strlen(res.error) < sizeof res.error && !strcmp(res.error_id, "00100"));
    /* a bad errorId makes the fault unusable */
    s_bad(ADAPTER_NSI_OP_RESERVE, 500, FAULT("00 704", "x"), "bad errorId");
    s_bad(ADAPTER_NSI_OP_RESERVE, 500, FAULT("12345678901234567", "x"),
          "bad errorId");
    adapter_nsi_result_clean(&res);
}

static void
test_parse_hostile(void)
{
    struct adapter_nsi_result res = { 0 };
    const enum adapter_nsi_op Q = ADAPTER_NSI_OP_QUERY, RV = ADAPTER_NSI_OP_RESERVE;

    s_bad(Q, 404, "not found", "HTTP 404");
    s_bad(Q, 200, "", "empty body");
    s_bad(Q, 200, "not xml at all", "not well-formed");
    s_bad(Q, 200, ENV_OPEN "<ctypes:querySummarySyncConfirmed><reserv",
          "not well-formed");
    s_bad(Q, 500, "<html><head><title>500 - Internal Server Error</title>"
          "</head><body>x</body></html>", "HTTP 500 without a SOAP fault");
    s_bad(Q, 500, "<html><body>unclosed", "HTTP 500 without a SOAP fault");
    s_bad(Q, 200, "<Envelope><Body/></Envelope>", "not a SOAP 1.1 envelope");
    s_bad(Q, 200, "<e:Envelope xmlns:e='http://www.w3.org/2003/05/soap-envelope'>"
          "<e:Body/></e:Envelope>", "not a SOAP 1.1 envelope");
    s_bad(Q, 200, "<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/"
          "envelope/'/>", "without a Body");
    /* billion laughs, external entities, any DTD */
    s_bad(RV, 200, "<?xml version='1.0'?><!DOCTYPE lolz ["
          "<!ENTITY lol 'lol'><!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;'>"
          "<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>"
          "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>]>"
          "<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'"
          " xmlns:c='http://schemas.ogf.org/nsi/2013/12/connection/types'>"
          "<soap:Body><c:reserveResponse><connectionId>&lol3;</connectionId>"
          "</c:reserveResponse></soap:Body></soap:Envelope>", "DTD");
    s_bad(RV, 200, "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
          "<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'"
          " xmlns:c='http://schemas.ogf.org/nsi/2013/12/connection/types'>"
          "<soap:Body><c:reserveResponse><connectionId>&e;</connectionId>"
          "</c:reserveResponse></soap:Body></soap:Envelope>", "DTD");
    s_bad(RV, 200, "<!DOCTYPE x SYSTEM 'http://127.0.0.1:9/evil.dtd'><x/>",
          "DTD");
    s_bad(RV, 200, ENV_OPEN "<ctypes:reserveResponse><connectionId>&undef;"
          "</connectionId></ctypes:reserveResponse>" ENV_CLOSE,
          "not well-formed");
    /* markup, size and character rules on fields */
    s_bad(RV, 200, ENV_OPEN "<ctypes:reserveResponse><connectionId>EX<b>1</b>"
          "</connectionId></ctypes:reserveResponse>" ENV_CLOSE, "markup");
    s_bad(RV, 200, ENV_OPEN "<ctypes:reserveResponse><connectionId>EX 1"
          "</connectionId></ctypes:reserveResponse>" ENV_CLOSE,
          "bad connectionId 'EX 1'");
    s_bad(RV, 200, ENV_OPEN "<ctypes:reserveResponse><connectionId>EX&#x7f;"
          "</connectionId></ctypes:reserveResponse>" ENV_CLOSE,
          "bad connectionId 'EX\\x7f'");
    s_bad(RV, 200, ENV_OPEN "<ctypes:reserveResponse></ctypes:reserveResponse>"
          ENV_CLOSE, "<connectionId> missing");
    {
        char body[4096], id[400];
        memset(id, 'a', sizeof id - 1);
        id[sizeof id - 1] = '\0';
        snprintf(body, sizeof body, ENV_OPEN "<ctypes:reserveResponse>"
                 "<connectionId>%s</connectionId></ctypes:reserveResponse>"
                 ENV_CLOSE, id);
        s_bad(RV, 200, body, "over");
    }
    /* wrong operation, another correlationId */
    s_bad(Q, 200, ENV_OPEN "<ctypes:reserveResponse><connectionId>EX-1"
          "</connectionId></ctypes:reserveResponse>" ENV_CLOSE,
          "expected <querySummarySyncConfirmed>, got <reserveResponse>");
    s_bad(ADAPTER_NSI_OP_RELEASE, 200, ENV_OPEN "<acknowledgment/>" ENV_CLOSE,
          "expected <acknowledgment>");
    {
        struct adapter_nsi_result r2 = { 0 };
        const char *b = ENV_OPEN "<ctypes:acknowledgment/>" ENV_CLOSE;
        assert(adapter_nsi_soap_parse(ADAPTER_NSI_OP_PROVISION, 200, b,
                                      strlen(b), MAX,
                                      "urn:uuid:00000000-0000-4000-8000-000000000000",
                                      &r2) == ADAPTER_NSI_FAILED);
        assert(strstr(r2.error, "not ours"));
        /* oversize: refused unread */
        assert(adapter_nsi_soap_parse(ADAPTER_NSI_OP_PROVISION, 200, b,
                                      strlen(b), 100, CORR, &r2)
               == ADAPTER_NSI_FAILED);
        assert(strstr(r2.error, "over 100"));
    }
    /* query fields */
    s_bad(Q, 200, QUERY(RESV("EX-1", "ReserveExploded", "Released", "Created",
                             "false", STP_A, STP_A, "1")),
          "unknown reservationState 'ReserveExploded'");
    s_bad(Q, 200, QUERY(RESV("EX-1", "ReserveHeld", "Gone", "Created",
                             "false", STP_A, STP_A, "1")),
          "unknown provisionState");
    s_bad(Q, 200, QUERY(RESV("EX-1", "ReserveHeld", "Released", "Zombie",
                             "false", STP_A, STP_A, "1")),
          "unknown lifecycleState");
    s_bad(Q, 200, QUERY(RESV("EX-1", "ReserveHeld", "Released", "Created",
                             "yes", STP_A, STP_A, "1")), "not a boolean");
    s_bad(Q, 200, QUERY(RESV("EX-1", "ReserveHeld", "Released", "Created",
                             "true", STP_A, STP_A, "-1")), "capacity");
    s_bad(Q, 200, QUERY(RESV("EX-1", "ReserveHeld", "Released", "Created",
                             "true", STP_A, STP_A, "100000000000")), "capacity");
    s_bad(Q, 200, QUERY(RESV("EX-1", "ReserveHeld", "Released", "Created",
                             "true", STP_A, STP_A, "1e3")), "capacity");
    s_bad(Q, 200, QUERY(RESV("EX-1", "ReserveHeld", "Released", "Created",
                             "true", "urn:ogf:network:x:A?vlan=4095", STP_A,
                             "1")), "bad sourceSTP");
    s_bad(Q, 200, QUERY(RESV("EX-1", "ReserveHeld", "Released", "Created",
                             "true", STP_A, "urn:ogf:network:x:B", "1")),
          "bad destSTP");
    s_bad(Q, 200, QUERY(RESV("EX 1", "ReserveHeld", "Released", "Created",
                             "true", STP_A, STP_A, "1")), "bad connectionId");
    s_bad(Q, 200, QUERY("<reservation><connectionId>EX-1</connectionId>"
                        "</reservation>"), "<connectionStates> missing");
    /* too many reservations */
    {
        static const char one[] = "<reservation/>";
        size_t n = ADAPTER_NSI_MAX_RESERVATIONS + 1, size = 4096 + n * sizeof one;
        char *body = malloc(size);
        size_t len = (size_t) snprintf(body, size, "%s%s", ENV_OPEN,
                                       "<ctypes:querySummarySyncConfirmed>");
        for (size_t i = 0; i < n; i++) {
            memcpy(body + len, one, sizeof one - 1);
            len += sizeof one - 1;
        }
        snprintf(body + len, size - len, "%s",
                 "</ctypes:querySummarySyncConfirmed>" ENV_CLOSE);
        s_bad(Q, 200, body, "reservations in one answer");
        free(body);
    }
    /* deep nesting: libxml2's own depth limit, no crash */
    {
        size_t n = 100000, size = n * 7 + 512, len;
        char *body = malloc(size);
        len = (size_t) snprintf(body, size, "%s", ENV_OPEN);
        for (size_t i = 0; i < n; i++) {
            memcpy(body + len, "<a>", 3);
            len += 3;
        }
        body[len] = '\0';
        adapter_nsi_result_clean(&res);
        assert(adapter_nsi_soap_parse(Q, 200, body, len, size, CORR, &res)
               == ADAPTER_NSI_FAILED);
        free(body);
    }
    /* NUL bytes inside */
    {
        static const char b[] = "<soap:Envelope\0 xmlns:soap='x'/>";
        adapter_nsi_result_clean(&res);
        assert(adapter_nsi_soap_parse(Q, 200, b, sizeof b - 1, MAX, CORR, &res)
               == ADAPTER_NSI_FAILED);
    }
    adapter_nsi_result_clean(&res);
}

/* The client. */

struct s_done {
    int n;
    struct adapter_nsi_result res;
};

static void
s_on_done(void *arg, uint64_t id, const struct adapter_nsi_result *res)
{
    struct s_done *d = arg;
    d->n++;
    d->res = *res;
    d->res.resv = NULL;
    d->res.n_resv = 0;
}

static void
test_client(void)
{
    struct adapter_nsi_config cfg;
    adapter_nsi_soap_t *soap;
    struct s_done d = { 0 };
    char err[256];
    struct adapter_nsi_call c = { .op = ADAPTER_NSI_OP_TERMINATE,
                                  .connection_id = "EX-1" };

    /* port 9 on loopback: nothing listens (the test machine's discard
     * service would do too: the reply would not parse) */
    assert(s_load(&cfg, "  max_in_flight: 2\n", err, sizeof err));
    soap = adapter_nsi_soap_new(&cfg, err, sizeof err);
    assert(soap);
    assert(adapter_nsi_soap_start(soap, &c, s_on_done, &d, err, sizeof err) == 1);
    assert(adapter_nsi_soap_start(soap, &c, s_on_done, &d, err, sizeof err) == 2);
    assert(!adapter_nsi_soap_start(soap, &c, s_on_done, &d, err, sizeof err));
    assert(strstr(err, "in flight"));
    assert(adapter_nsi_soap_in_flight(soap) == 2);
    c.connection_id = "bad id";
    adapter_nsi_soap_destroy(&soap);    /* with calls in flight: no calls */
    assert(!soap && d.n == 0);

    soap = adapter_nsi_soap_new(&cfg, err, sizeof err);
    assert(!adapter_nsi_soap_start(soap, &c, s_on_done, &d, err, sizeof err));
    assert(strstr(err, "bad connectionId"));
    c.connection_id = "EX-1";
    assert(adapter_nsi_soap_start(soap, &c, s_on_done, &d, err, sizeof err));
    for (int i = 0; i < 100 && !d.n; i++) {
        adapter_nsi_soap_tick(soap, 50);
    }
    assert(d.n == 1);
    assert(d.res.status == ADAPTER_NSI_FAILED && d.res.http_code == 0);
    assert(d.res.op == ADAPTER_NSI_OP_TERMINATE);
    assert(!strcmp(d.res.connection_id, "EX-1"));
    assert(d.res.error[0]);
    assert(adapter_nsi_soap_in_flight(soap) == 0);
    assert(adapter_nsi_soap_tick(soap, 0) == 0);
    adapter_nsi_soap_destroy(&soap);
    adapter_nsi_soap_destroy(&soap);
    cfg_free(adapter_nsi_keys, &cfg);

    /* an invalid config gives no client */
    assert(!s_load(&cfg, "  provider_url: http://192.0.2.1/\n", err,
                   sizeof err));
    assert(!adapter_nsi_soap_new(&cfg, err, sizeof err));
    cfg_free(adapter_nsi_keys, &cfg);
}

int
main(void)
{
    struct adapter_nsi_config cfg;
    char err[256];

    test_config();
    test_stp();
    assert(s_load(&cfg, "", err, sizeof err));
    test_build(&cfg);
    cfg_free(adapter_nsi_keys, &cfg);
    test_parse_good();
    test_parse_faults();
    test_parse_hostile();
    test_client();
    return 0;
}
