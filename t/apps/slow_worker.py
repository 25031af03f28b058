#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
#
# Copyright (c) 2026 The drover authors.
#
# A test worker written the way PM2 expects: it stops gracefully on
# SIGINT only (stops accepting, finishes the requests in flight, exits 0)
# and keeps the default disposition of SIGTERM, which kills it at once.
# It serves the socket at fd 3, one request per connection: GET /slow
# answers "hello\n" after SLOW_MS milliseconds, GET /slow?ms=N after N,
# anything else at once.
# With GROW_MB set, it takes that many megabytes more after its first
# request, as a leaking worker would.  READY=1 goes to NOTIFY_SOCKET.

import os
import signal
import socket
import threading
import time

stopping = False
inflight = []
hoard = []


def on_int(signum, frame):
    global stopping
    stopping = True


def notify(msg):
    addr = os.environ.get('NOTIFY_SOCKET')
    if not addr:
        return
    if addr[0] == '@':
        addr = '\0' + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(msg.encode(), addr)


def serve(conn):
    try:
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        path = data.split(b' ', 2)[1]
        if path == b'/slow':
            time.sleep(int(os.environ.get('SLOW_MS', '300')) / 1000.0)
        elif path.startswith(b'/slow?ms='):
            time.sleep(int(path[9:]) / 1000.0)
        grow = os.environ.get('GROW_MB')
        if grow and not hoard:
            hoard.append(b'x' * (int(grow) << 20))
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n'
                     b'Connection: close\r\n\r\nhello\n')
    finally:
        conn.close()


def main():
    signal.signal(signal.SIGINT, on_int)
    lis = socket.socket(fileno=3)
    lis.settimeout(0.05)
    notify('READY=1')
    while not stopping:
        try:
            conn, _ = lis.accept()
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        conn.settimeout(None)
        t = threading.Thread(target=serve, args=(conn,))
        t.start()
        inflight.append(t)
        inflight[:] = [x for x in inflight if x.is_alive()]
    for t in inflight:
        t.join()


main()
