# SPDX-License-Identifier: ISC
#
# Copyright (c) 2026 The drover authors.
#
# A WSGI application for the tests of gunicorn under drover (t/python.t).
# GET / answers "hello\n", GET /pid the pid of the process that answers
# and of its parent (gunicorn's worker and arbiter).  GET /gate?mark=M&gate=G is a request the
# test holds in flight: the handler writes a byte to the FIFO M (so the
# test knows the request is being handled), then waits for a line on the
# FIFO G before it answers "released\n".

import os
from urllib.parse import parse_qs


def app(environ, start_response):
    path = environ.get('PATH_INFO', '/')
    if path == '/':
        body = b'hello\n'
    elif path == '/pid':
        body = b'%d %d\n' % (os.getpid(), os.getppid())
    elif path == '/gate':
        q = parse_qs(environ.get('QUERY_STRING', ''))
        with open(q['mark'][0], 'w') as f:
            f.write('x')
        with open(q['gate'][0]) as f:
            f.readline()
        body = b'released\n'
    else:
        start_response('404 Not Found', [('Content-Length', '0')])
        return [b'']
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]
