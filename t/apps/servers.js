// SPDX-License-Identifier: ISC
//
// Copyright (c) 2026 The drover authors.
//
// Two servers of other kinds than Express and Fastify, for t/node.t: a
// plain net server on port 4000 that answers "pong\n" to a line, and an
// https server on 127.0.0.1:4443 (key and certificate from the files
// named by TLS_KEY and TLS_CERT) that answers "hello over tls\n".  Written
// as an application would be, with fixed ports and no knowledge of
// drover.

'use strict';

const fs = require('fs');
const https = require('https');
const net = require('net');

net.createServer((c) => {
	c.once('data', () => c.end('pong\n'));
}).listen(4000);

https.createServer({
	key: fs.readFileSync(process.env.TLS_KEY),
	cert: fs.readFileSync(process.env.TLS_CERT),
}, (req, res) => {
	res.end('hello over tls\n');
}).listen(4443, '127.0.0.1');
