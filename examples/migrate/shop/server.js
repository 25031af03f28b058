// SPDX-License-Identifier: ISC
//
// Copyright (c) 2026 The drover authors.
//
// /srv/shop/server.js: an application written for PM2 cluster mode, as
// PM2's documentation shows it, used unchanged by the PM2 guide of
// drover-migrate(7): an HTTP server on process.env.PORT (or 3000) that
// tells PM2 it is ready with process.send('ready') (wait_ready) and stops
// on SIGINT, PM2's stop signal, by closing its server.  Under drover,
// node/drover.js gives it drover's socket, accepts process.send('ready')
// (there is no IPC channel to send it on) and stops it gracefully on
// SIGTERM.  GET / answers "hello from the shop", GET /pid its pid.

'use strict';

const http = require('http');

const server = http.createServer((req, res) => {
	res.setHeader('Content-Type', 'text/plain');
	res.end(req.url === '/pid' ? `${process.pid}\n` :
	    'hello from the shop\n');
});

server.listen(process.env.PORT || 3000, () => {
	process.send('ready');
});

process.on('SIGINT', () => {
	server.close(() => process.exit(0));
});
