#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
#
# Copyright (c) 2026 The drover authors.
#
# A drover worker in Python 3 with the standard library only: an
# http.server (ThreadingHTTPServer) on the listening sockets drover passes
# (fds 3 .. 3+LISTEN_FDS-1), answering "/" and "/pid" with HTTP/1.1
# keep-alive.  It tells drover (or systemd) that it is ready, that it is
# alive and that it stops through sd_notify(3) datagrams on NOTIFY_SOCKET.
# On SIGTERM or SIGINT it says STOPPING=1, stops accepting, lets the
# requests in flight finish, answers what kept-alive connections still send
# with "Connection: close", closes the idle ones after a short linger and
# exits 0.
#
# Run it as: drover --ready notify -l 127.0.0.1:8080 -- python3 server.py

import os
import selectors
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EX_CONFIG = 78
IDLE_S = 60.0		# an idle keep-alive connection is closed after this
LINGER_S = 1.0		# after SIGTERM, idle connections stay this long

notify_addr = None	# NOTIFY_SOCKET, '@' already turned into '\0'
stopping = False
linger_end = 0.0
stop_r, stop_w = os.pipe()	# readable once stopping: wakes idle handlers


def log(msg):
    sys.stderr.write('server.py[%d]: %s\n' % (os.getpid(), msg))


def fatal(code, msg):
    log(msg)
    sys.exit(code)


def sd_notify(msg):
    """Send msg (lines of KEY=VALUE) as one datagram to NOTIFY_SOCKET.

    Returns True if sent, False if there is no socket to send to or the
    send failed (which is reported, never fatal: a worker keeps serving
    even if its supervisor stopped listening).
    """
    if notify_addr is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX,
                           socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.sendto(msg.encode(), notify_addr)
        return True
    except OSError as e:
        log('sd_notify: %s' % e)
        return False


def env_int(name):
    """A non-negative integer variable: None when unset, fatal if bad."""
    s = os.environ.get(name)
    if s is None:
        return None
    if not s.isdigit():
        fatal(EX_CONFIG, '%s "%s" is not a number' % (name, s))
    return int(s)


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'	# keep-alive unless told otherwise
    timeout = IDLE_S			# a request that stalls half-way

    def handle(self):
        """Serve requests on the connection until either side closes it.

        Between two requests, wait in wait_request(), which a stop can
        interrupt, rather than in a blocking read, which it cannot.
        """
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection and self.wait_request():
            self.handle_one_request()

    def buffered(self):
        """True if the next request has (partly) arrived already: in
        rfile's buffer (pipelined requests) or in the socket."""
        self.connection.settimeout(0)
        try:
            return len(self.rfile.peek(1)) > 0
        except OSError:
            return False
        finally:
            self.connection.settimeout(self.timeout)

    def wait_request(self):
        """Wait until the next request (or the client's EOF) can be read:
        True; False when the connection should be closed instead, because
        it was idle for IDLE_S, or stays idle until the linger ends once
        stopping."""
        if self.buffered():
            return True
        with selectors.DefaultSelector() as sel:
            sel.register(self.connection, selectors.EVENT_READ)
            sel.register(stop_r, selectors.EVENT_READ)
            woken = False
            while True:
                if stopping:
                    if not woken:
                        sel.unregister(stop_r)
                        woken = True
                    timeout = linger_end - time.monotonic()
                    if timeout <= 0:
                        return False
                else:
                    timeout = IDLE_S
                events = sel.select(timeout)
                if any(key.fileobj is self.connection for key, _ in events):
                    return True
                if not events and not stopping:
                    return False

    def do_GET(self):
        if self.path == '/':
            code, body = 200, 'hello from python\n'
        elif self.path == '/pid':
            code, body = 200, '%d\n' % os.getpid()
        else:
            code, body = 404, 'not found\n'
        body = body.encode()
        self.send_response(code)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        if stopping:
            # Also sets close_connection: this is the last answer.
            self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code='-', size='-'):
        pass			# no access log: this is an example

    def address_string(self):
        # A unix socket's peer has no address to show.
        if isinstance(self.client_address, tuple):
            return str(self.client_address[0])
        return 'unix'


class Server(ThreadingHTTPServer):
    # Wait for every handler thread in server_close(): the requests in
    # flight finish before the process exits.
    daemon_threads = False
    block_on_close = True


def listen_sockets():
    """The listening sockets passed the systemd way, as socket objects.
    None at all, or one that is not a listening socket, is a configuration
    error (exit 78, which drover does not restart)."""
    n = env_int('LISTEN_FDS')
    pid = env_int('LISTEN_PID')
    if not n:
        fatal(EX_CONFIG, 'no listening socket (LISTEN_FDS is unset or 0): '
              'run me under drover or another socket activation manager')
    if pid is not None and pid != os.getpid():
        fatal(EX_CONFIG, 'LISTEN_PID %d is not my pid %d' %
              (pid, os.getpid()))
    socks = []
    for fd in range(3, 3 + n):
        try:
            s = socket.socket(fileno=fd)
            listening = s.getsockopt(socket.SOL_SOCKET,
                                     socket.SO_ACCEPTCONN)
        except OSError as e:
            fatal(EX_CONFIG, 'fd %d: %s' % (fd, e))
        if not listening:
            fatal(EX_CONFIG, 'fd %d is not a listening socket' % fd)
        s.set_inheritable(False)
        socks.append(s)
    return socks


def make_server(sock):
    """A server on an inherited socket: created unbound, its own socket
    replaced by sock."""
    srv = Server(('', 0), Handler, bind_and_activate=False)
    srv.socket.close()
    srv.socket = sock
    srv.server_address = sock.getsockname()
    return srv


def watchdog(interval, done):
    while not done.wait(interval):
        sd_notify('WATCHDOG=1')


def main():
    global notify_addr, stopping, linger_end

    socks = listen_sockets()
    addr = os.environ.get('NOTIFY_SOCKET')
    if addr is not None and addr[:1] == '@':
        notify_addr = '\0' + addr[1:]
    elif addr is not None and addr[:1] == '/':
        notify_addr = addr
    elif addr:
        log('NOTIFY_SOCKET "%s" is neither a path nor abstract' % addr)
    wd_usec = env_int('WATCHDOG_USEC')
    wd_pid = env_int('WATCHDOG_PID')
    if wd_pid is not None and wd_pid != os.getpid():
        wd_usec = None
    # What this process was given must not leak into anything it runs.
    for name in ('LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES',
                 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'):
        os.environ.pop(name, None)

    # TERM and INT are taken by sigwait() below, in this thread; blocked
    # before any thread starts, so that every thread inherits the mask
    # and none of them is interrupted by either signal.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})

    servers = [make_server(s) for s in socks]
    threads = [threading.Thread(target=srv.serve_forever, name='serve')
               for srv in servers]
    for t in threads:
        t.start()
    done = threading.Event()
    if wd_usec:
        threading.Thread(target=watchdog, args=(wd_usec / 2e6, done),
                         name='watchdog', daemon=True).start()
    sd_notify('READY=1\nSTATUS=serving %d socket%s' %
              (len(servers), '' if len(servers) == 1 else 's'))

    signal.sigwait({signal.SIGTERM, signal.SIGINT})

    # The graceful stop: no new connection is accepted, the idle
    # keep-alive connections are woken to linger, each remaining request
    # is answered with "Connection: close", and server_close() waits for
    # every handler thread.
    sd_notify('STOPPING=1\nSTATUS=stopping')
    linger_end = time.monotonic() + LINGER_S
    stopping = True
    os.write(stop_w, b'x')
    for srv in servers:
        srv.shutdown()
    for t in threads:
        t.join()
    for srv in servers:
        srv.server_close()
    done.set()
    return 0


if __name__ == '__main__':
    sys.exit(main())
