#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stand-in for a broken NSI CS 2.0 provider (test_nsi_soap.sh).

Listens on 127.0.0.1 (port 0: any free one), writes the port to PORTFILE,
and answers every POST by the last part of its path:

  /malformed  200, text/xml, an envelope cut off in the middle
  /http500    500, an HTML page (no SOAP fault)
  /hang       reads the request, then answers nothing for 60 s
  /big        200, a well-formed envelope of 4 MiB
  /dtd        200, an envelope with a DTD declaring nested entities
  /notsoap    200, well-formed XML that is not a SOAP envelope
  /wrongop    200, a reserveResponse to whatever was asked
  /badstate   200, querySummarySyncConfirmed with an unknown state
  /ack        200, an acknowledgment (a well-behaved provider)
  /sticky     a provider with state (reserve, reserveCommit, provision,
              release, reserveAbort, terminate, querySummarySync) whose
              first terminate of a connection leaves it Terminating for
              good, as OpenNSA does when restarted while it passes a
              terminate to its backend; the second ends it.  Each
              terminate is logged ("standin: terminate CID: N").
  /stuck      as /sticky, but no terminate ever ends a connection: it
              stays Terminating for good (OpenNSA when its backend had
              already ended its part).
  /releasing  as /sticky, but a release leaves the connection Releasing
              for good, its data plane active (OpenNSA killed while it
              passed a release to its backend); a terminate ends it at
              once.
  anything else: 404

With --tls CERT KEY CA it speaks HTTPS only, with CERT and KEY, and
demands a client certificate issued by CA (mutual TLS).

usage: nsi-standin.py PORTFILE [--tls CERT KEY CA]
"""
import http.server
import os
import re
import threading
import socketserver
import sys
import time

ENV_OPEN = ('<?xml version="1.0" encoding="UTF-8"?>'
            '<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"'
            ' xmlns:c="http://schemas.ogf.org/nsi/2013/12/connection/types">'
            '<S:Header/><S:Body>')
ENV_CLOSE = '</S:Body></S:Envelope>'

DTD = ('<?xml version="1.0"?><!DOCTYPE S:Envelope ['
       '<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
       '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
       '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
       '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
       '<!ENTITY e SYSTEM "file:///etc/passwd">]>'
       '<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"'
       ' xmlns:c="http://schemas.ogf.org/nsi/2013/12/connection/types">'
       '<S:Body><c:reserveResponse><connectionId>&d;&e;</connectionId>'
       '</c:reserveResponse></S:Body></S:Envelope>')

BADSTATE = (ENV_OPEN + '<c:querySummarySyncConfirmed><reservation>'
            '<connectionId>EX-1</connectionId><connectionStates>'
            '<reservationState>ReserveExploded</reservationState>'
            '<provisionState>Released</provisionState>'
            '<lifecycleState>Created</lifecycleState>'
            '<dataPlaneStatus><active>false</active></dataPlaneStatus>'
            '</connectionStates></reservation>'
            '</c:querySummarySyncConfirmed>' + ENV_CLOSE)


class Sticky:
    """The /sticky provider's connections: cid -> dict of its states."""
    lock = threading.Lock()
    conns = {}

    @staticmethod
    def _text(body, tag):
        m = re.search(r'<(?:\w+:)?%s>([^<]*)</' % tag, body)
        return m.group(1) if m else ''

    @classmethod
    def _resv(cls, cid, c):
        return ('<reservation><connectionId>%s</connectionId>'
                '<globalReservationId>%s</globalReservationId>'
                '<criteria version="1"><p2ps><capacity>100</capacity>'
                '<sourceSTP>%s</sourceSTP><destSTP>%s</destSTP></p2ps>'
                '</criteria><connectionStates>'
                '<reservationState>%s</reservationState>'
                '<provisionState>%s</provisionState>'
                '<lifecycleState>%s</lifecycleState>'
                '<dataPlaneStatus><active>%s</active></dataPlaneStatus>'
                '</connectionStates></reservation>'
                % (cid, c['gid'], c['src'], c['dst'], c['rsm'], c['psm'],
                   c['lsm'], 'true' if c['active'] else 'false'))

    @classmethod
    def answer(cls, op, body, mode='sticky'):
        """(HTTP code, body) for operation op; the connection reserved
        now behaves as mode says (see the modes above)."""
        ack = ENV_OPEN + '<c:acknowledgment/>' + ENV_CLOSE
        with cls.lock:
            if op == 'reserve':
                cid = 'EX-s%d' % (len(cls.conns) + 1)
                ends = []
                for tag in ('sourceSTP', 'destSTP'):
                    stp = cls._text(body, tag)
                    m = re.search(r'vlan=(\d+)', stp)
                    ends.append(re.sub(r'vlan=.*', 'vlan=' + m.group(1), stp)
                                if m else stp)
                cls.conns[cid] = dict(
                    gid=cls._text(body, 'globalReservationId'),
                    src=ends[0], dst=ends[1], rsm='ReserveHeld',
                    psm='Released', lsm='Created', active=False,
                    terminates=0, mode=mode)
                return 200, (ENV_OPEN + '<c:reserveResponse><connectionId>'
                             + cid + '</connectionId></c:reserveResponse>'
                             + ENV_CLOSE)
            if op == 'querySummarySync':
                ids = re.findall(r'<(?:\w+:)?connectionId>([^<]*)</', body)
                out = ''.join(cls._resv(cid, c)
                              for cid, c in sorted(cls.conns.items())
                              if not ids or cid in ids)
                return 200, (ENV_OPEN + '<c:querySummarySyncConfirmed>' + out
                             + '</c:querySummarySyncConfirmed>' + ENV_CLOSE)
            c = cls.conns.get(cls._text(body, 'connectionId'))
            if c is None:
                return 500, (ENV_OPEN + '<S:Fault><faultcode>S:Server'
                             '</faultcode><faultstring>unknown connection'
                             '</faultstring><detail><ftypes:serviceException'
                             ' xmlns:ftypes="http://schemas.ogf.org/nsi/'
                             '2013/12/framework/types"><errorId>00203'
                             '</errorId><text>unknown connection</text>'
                             '</ftypes:serviceException></detail></S:Fault>'
                             + ENV_CLOSE)
            if op == 'reserveCommit' or op == 'reserveAbort':
                c['rsm'] = 'ReserveStart'
            elif op == 'provision':
                c['psm'], c['active'] = 'Provisioned', True
            elif op == 'release':
                if c['mode'] == 'releasing':
                    c['psm'] = 'Releasing'
                else:
                    c['psm'], c['active'] = 'Released', False
            elif op == 'terminate':
                c['terminates'] += 1
                c['active'] = False
                c['lsm'] = ('Terminated' if c['mode'] == 'releasing'
                            else 'Terminating'
                            if c['terminates'] == 1 or c['mode'] == 'stuck'
                            else 'Terminated')
                sys.stderr.write('standin: terminate %s: %d\n'
                                 % (cls._text(body, 'connectionId'),
                                    c['terminates']))
            else:
                return 500, 'unknown operation'
            return 200, ack


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        sys.stderr.write('standin: ' + (fmt % args) + '\n')

    def _send(self, code, ctype, body):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        if n > 1 << 20:
            self._send(413, 'text/plain', 'too large')
            return
        body = self.rfile.read(n).decode(errors='replace')
        mode = self.path.rstrip('/').rsplit('/', 1)[-1]
        if mode in ('sticky', 'stuck', 'releasing'):
            op = (self.headers.get('SOAPAction') or '').strip('"')
            code, out = Sticky.answer(op.rsplit('/', 1)[-1], body, mode)
            self._send(code, 'text/xml', out)
        elif mode == 'malformed':
            self._send(200, 'text/xml', ENV_OPEN + '<c:acknowledgment><conn')
        elif mode == 'http500':
            self._send(500, 'text/html',
                       '<html><head><title>500 - Internal Server Error'
                       '</title></head><body>boom</body></html>')
        elif mode == 'hang':
            time.sleep(60)
        elif mode == 'big':
            pad = '<!--' + 'x' * (4 << 20) + '-->'
            self._send(200, 'text/xml', ENV_OPEN + pad + ENV_CLOSE)
        elif mode == 'dtd':
            self._send(200, 'text/xml', DTD)
        elif mode == 'notsoap':
            self._send(200, 'text/xml', '<html><body>hello</body></html>')
        elif mode == 'wrongop':
            self._send(200, 'text/xml', ENV_OPEN + '<c:reserveResponse>'
                       '<connectionId>EX-1</connectionId>'
                       '</c:reserveResponse>' + ENV_CLOSE)
        elif mode == 'badstate':
            self._send(200, 'text/xml', BADSTATE)
        elif mode == 'ack':
            self._send(200, 'text/xml',
                       ENV_OPEN + '<c:acknowledgment/>' + ENV_CLOSE)
        else:
            self._send(404, 'text/plain', 'no such mode')


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    if len(sys.argv) not in (2, 6) or (len(sys.argv) == 6
                                       and sys.argv[2] != '--tls'):
        sys.exit(__doc__)
    srv = Server(('127.0.0.1', 0), Handler)
    if len(sys.argv) == 6:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        ctx.load_verify_locations(sys.argv[5])
        ctx.verify_mode = ssl.CERT_REQUIRED
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(sys.argv[1] + '.tmp', 'w') as f:
        f.write('%d\n' % srv.server_address[1])
    os.rename(sys.argv[1] + '.tmp', sys.argv[1])
    srv.serve_forever()


if __name__ == '__main__':
    main()
