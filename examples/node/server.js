#!/usr/bin/env node
// SPDX-License-Identifier: ISC
//
// Copyright (c) 2026 The drover authors.
//
// A drover worker in plain Node.js (no npm package): an HTTP server on the
// listening sockets drover passes (fds 3 .. 3+LISTEN_FDS-1), answering
// "/" and "/pid".  It speaks drover's notify protocol on the stream channel
// DROVER_NOTIFY_FD, one "KEY=VALUE\n" line per message (Node has no
// AF_UNIX datagram sockets, so NOTIFY_SOCKET is not used): READY=1 once
// every socket is served, STATUS= lines, WATCHDOG=1 every half watchdog
// interval, and STOPPING=1 on SIGTERM or SIGINT, after which it stops
// accepting, answers what its kept-alive connections still send with
// "Connection: close", closes the idle ones after a short linger and
// exits 0.
//
// Run it as: drover --ready notify -l 127.0.0.1:8080 -- node server.js

'use strict';

const fs = require('fs');
const http = require('http');
const net = require('net');

const EX_CONFIG = 78;
// How long idle keep-alive connections stay open after SIGTERM.
const LINGER_MS = 1000;

let stopping = false;
let notifyFd = -1;

function fatal(code, msg) {
	process.stderr.write(`server.js[${process.pid}]: ${msg}\n`);
	process.exit(code);
}

// Read a non-negative integer variable; undefined when unset, fatal when
// malformed.
function envInt(name) {
	const s = process.env[name];

	if (s === undefined)
		return undefined;
	if (!/^[0-9]+$/.test(s))
		fatal(EX_CONFIG, `${name} "${s}" is not a number`);
	return Number(s);
}

// Send one message on the notify stream, if there is one.  A failure
// (the master is gone: EPIPE) is reported, never fatal.
function notify(msg) {
	if (notifyFd < 0)
		return;
	try {
		fs.writeSync(notifyFd, msg.replace(/\n/g, ' ') + '\n');
	} catch (e) {
		process.stderr.write(`server.js[${process.pid}]: notify: ` +
		    `${e.message}\n`);
	}
}

function respond(req, res) {
	let body;

	if (req.url === '/')
		body = 'hello from node\n';
	else if (req.url === '/pid')
		body = `${process.pid}\n`;
	res.statusCode = body === undefined ? 404 : 200;
	if (body === undefined)
		body = 'not found\n';
	res.setHeader('Content-Type', 'text/plain');
	res.setHeader('Content-Length', Buffer.byteLength(body));
	// Node keeps HTTP/1.1 connections alive unless told otherwise; once
	// stopping, every answer closes its connection after it is sent.
	if (stopping)
		res.setHeader('Connection', 'close');
	res.end(body);
}

// The listening sockets: LISTEN_FDS of them from fd 3, if they are meant
// for this process (LISTEN_PID).
const nfds = envInt('LISTEN_FDS');
const lpid = envInt('LISTEN_PID');
if (nfds === undefined || nfds === 0)
	fatal(EX_CONFIG, 'no listening socket (LISTEN_FDS is unset or 0): ' +
	    'run me under drover or another socket activation manager');
if (lpid !== undefined && lpid !== process.pid)
	fatal(EX_CONFIG, `LISTEN_PID ${lpid} is not my pid ${process.pid}`);
notifyFd = envInt('DROVER_NOTIFY_FD') ?? -1;
const wdUsec = envInt('WATCHDOG_USEC');
const wdPid = envInt('WATCHDOG_PID');
// What this process was given must not leak into anything it runs.
for (const v of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES',
    'DROVER_NOTIFY_FD', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'])
	delete process.env[v];

const servers = [];
let listening = 0;
for (let fd = 3; fd < 3 + nfds; fd++) {
	const server = http.createServer(respond);

	server.on('error', (e) => fatal(EX_CONFIG, `fd ${fd}: ${e.message}`));
	server.listen({ fd: fd }, () => {
		if (++listening === nfds) {
			notify('READY=1');
			notify(`STATUS=serving ${nfds} socket` +
			    (nfds === 1 ? '' : 's'));
		}
	});
	servers.push(server);
}

// The watchdog: a ping every half interval.  The timer is unref'd: it
// must not keep a stopping process alive.
if (wdUsec > 0 && (wdPid === undefined || wdPid === process.pid))
	setInterval(() => notify('WATCHDOG=1'),
	    Math.max(1, Math.floor(wdUsec / 2000))).unref();

// A graceful stop.  Node's http server.close() also closes every idle
// keep-alive connection at once (since Node 19).  A client may be sending
// its next request on such a connection at that very moment: the request
// would meet a closed socket (or a reset) instead of an answer.  So only
// the listening sockets are closed now (net.Server's close, which waits
// for the connections), requests that still arrive are answered with
// "Connection: close", and the connections still idle after LINGER_MS are
// closed then.  Once every connection is gone, exit 0.
function stop() {
	let open = servers.length;

	if (stopping)
		return;
	stopping = true;
	notify('STOPPING=1');
	notify('STATUS=stopping');
	for (const server of servers) {
		net.Server.prototype.close.call(server, () => {
			if (--open === 0)
				process.exit(0);
		});
	}
	setTimeout(() => {
		for (const server of servers)
			server.closeIdleConnections();
	}, LINGER_MS).unref();
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
