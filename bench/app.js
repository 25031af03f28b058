// SPDX-License-Identifier: ISC
//
// Copyright (c) 2026 The drover authors.
//
// bench/app.js: the one small Node.js HTTP application that bench/compare
// runs under every Node target: alone, under the cluster module
// (bench/cluster.js), under PM2 cluster mode and, unchanged, under drover
// with the Node helper (node -r node/drover.js).  GET /pid answers the
// pid of the process that served it (the restart figure waits for a new
// one); anything else answers "hello\n".  Both carry Content-Length, so
// connections are kept alive.  It listens on PORT (3000) at HOST
// (127.0.0.1) and, on purpose, handles no signal: it is the application
// nobody wrote a graceful stop for, and what each supervisor makes of it
// is part of what is measured.

'use strict';

const http = require('http');

const HELLO = 'hello\n';

http.createServer((req, res) => {
	const body = req.url === '/pid' ? `${process.pid}\n` : HELLO;

	res.writeHead(200, {
		'Content-Type': 'text/plain',
		'Content-Length': Buffer.byteLength(body),
	});
	res.end(body);
}).listen(Number(process.env.PORT) || 3000, process.env.HOST || '127.0.0.1');
