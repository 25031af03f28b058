# SPDX-License-Identifier: ISC
#
# Copyright (c) 2026 The drover authors.
#
# An ASGI application for the tests of uvicorn under drover (t/python.t).
# GET / answers "hello\n", GET /pid the pid of the process that answers
# and of its parent.  GET /gate?mark=M&gate=G is a request the
# test holds in flight: the handler writes a byte to the FIFO M (so the
# test knows the request is being handled), then waits, in a thread so
# that the event loop goes on, for a line on the FIFO G before it answers
# "released\n".

import asyncio
import os
from urllib.parse import parse_qs


def hold(mark, gate):
    with open(mark, 'w') as f:
        f.write('x')
    with open(gate) as f:
        f.readline()


async def app(scope, receive, send):
    if scope['type'] != 'http':
        return
    status, body = 200, b'hello\n'
    if scope['path'] == '/gate':
        q = parse_qs(scope['query_string'].decode())
        await asyncio.get_running_loop().run_in_executor(
            None, hold, q['mark'][0], q['gate'][0])
        body = b'released\n'
    elif scope['path'] == '/pid':
        body = b'%d %d\n' % (os.getpid(), os.getppid())
    elif scope['path'] != '/':
        status, body = 404, b''
    await send({'type': 'http.response.start', 'status': status,
                'headers': [(b'content-type', b'text/plain'),
                            (b'content-length', str(len(body)).encode())]})
    await send({'type': 'http.response.body', 'body': body})
