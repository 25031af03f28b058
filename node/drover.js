// SPDX-License-Identifier: ISC
//
// Copyright (c) 2026 The drover authors.
//
// drover.js makes an unchanged Node.js application a well-behaved worker
// of drover(8).  Loaded before the application with
// NODE_OPTIONS=--require=/usr/share/drover/node/drover.js (or node -r),
// it does three things, and nothing at all in a process that was not
// handed listening sockets (LISTEN_FDS, with LISTEN_PID naming this very
// process, as drover and systemd set them), so that child processes that
// inherit NODE_OPTIONS are not affected:
//
//  - listen(port), listen(port, host), listen({port, host}) and
//    listen(path) of any net.Server (http, https, net, and so Express,
//    Fastify, Koa) take an inherited socket instead of binding a new one:
//    the one with that port (or unix path), preferring the same host among
//    several, else the first one not taken yet, so that drover's listen
//    addresses win over a port written in the application (a warning on
//    stderr says so), as gunicorn's bind gives way to socket activation.
//    The addresses of the inherited sockets are read from /proc/net
//    (only its listening sockets, which come first), matched by inode.
//    Once every inherited socket is taken, a listen on another port binds
//    as usual, and one on a port whose inherited sockets are all taken
//    fails with EADDRINUSE.  If PORT is not set, it is set to the port of
//    the first inherited TCP socket.
//  - Once every inherited socket is listening, READY=1 goes to drover on
//    the stream channel DROVER_NOTIFY_FD (WATCHDOG=1 too, every half
//    WATCHDOG_USEC, while the event loop runs).
//  - On SIGTERM or SIGINT, unless the application listens for that signal
//    itself, a graceful stop: STOPPING=1, the adopted servers stop
//    accepting, HTTP answers still to come carry "Connection: close",
//    idle kept-alive connections are closed after a linger of one second,
//    and the process exits 0 once no connection is left, or at the stop
//    timeout (NODE_DROVER_STOP_TIMEOUT, default 8s), closing what is left.
//
// Where there is no IPC channel, process.send() is defined to accept and
// drop what it is given, so that an app written for PM2, which says
// process.send('ready'), does not throw.
//
// An application that passes its own socket (listen({fd}),
// listen({handle}), a server or socket object) or asks for port 0 is left
// alone, as is a signal the application listens for with
// process.on('SIGTERM', ...): the check is made when the signal arrives.
// Plain CommonJS, no dependency.  See drover-migrate(7).

'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const net = require('net');
const os = require('os');
const pathmod = require('path');

const PREFIX = `drover.js[${process.pid}]`;
const DEFAULT_STOP_MS = 8000;
const LINGER_MS = 1000;
const SIGNALS = ['SIGTERM', 'SIGINT'];

// Everything the module knows, also exported for the curious.
const state = {
	active: false,		// this process was handed sockets
	sockets: [],		// one per inherited descriptor
	servers: [],		// the servers that took one
	stopping: false,
	ready: false,
	stopTimeoutMs: DEFAULT_STOP_MS,
};
let notifyFd = -1;
let warned = false;

function warn(msg) {
	process.stderr.write(`${PREFIX}: ${msg}\n`);
}

// A variable made of decimal digits, as a number; else undefined.
function envInt(name) {
	const s = process.env[name];

	return s !== undefined && /^[0-9]+$/.test(s) ? Number(s) : undefined;
}

// A duration in drover.conf(5) syntax ("250ms", "10s", "2m", "3"), in
// milliseconds; undefined if malformed.
function parseDuration(s) {
	const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$/.exec(s);
	const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 };

	return m ? Math.round(Number(m[1]) * unit[m[2] || 's']) : undefined;
}

// One message to the master, if there is a stream channel.  A failure
// (the master is gone) is said once and otherwise ignored.
function notify(msg) {
	if (notifyFd < 0)
		return;
	try {
		fs.writeSync(notifyFd, msg + '\n');
	} catch (e) {
		warn(`notify: ${e.message}`);
		notifyFd = -1;
	}
}

// An IPv6 address in full: eight groups of four hex digits, lower case.
// Anything else comes back unchanged.
function expand6(a) {
	let halves, head, tail, groups;

	if (typeof a !== 'string' || !net.isIPv6(a))
		return a;
	a = a.toLowerCase().replace(/%.*$/, '');
	if (a.includes('.')) {		// ::ffff:1.2.3.4
		const v4 = a.slice(a.lastIndexOf(':') + 1).split('.')
		    .map(Number);
		a = a.slice(0, a.lastIndexOf(':') + 1) +
		    ((v4[0] << 8) | v4[1]).toString(16) + ':' +
		    ((v4[2] << 8) | v4[3]).toString(16);
	}
	halves = a.split('::');
	head = halves[0] ? halves[0].split(':') : [];
	tail = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
	groups = head.concat(Array(8 - head.length - tail.length).fill('0'),
	    tail);
	return groups.map((g) => g.padStart(4, '0')).join(':');
}

// An address of /proc/net/tcp or tcp6: words of 32 bits printed in the
// host's byte order.
function procAddr(hex) {
	const bytes = [];

	for (let i = 0; i < hex.length; i += 8) {
		const w = hex.slice(i, i + 8).match(/../g);
		if (os.endianness() === 'LE')
			w.reverse();
		for (const b of w)
			bytes.push(parseInt(b, 16));
	}
	if (bytes.length === 4)
		return bytes.join('.');
	const groups = [];
	for (let i = 0; i < 16; i += 2)
		groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16)
		    .padStart(4, '0'));
	return groups.join(':');
}

// The lines of a /proc/net file, one at a time, read in chunks, until
// fn returns false.  Errors end the reading quietly.
function procLines(path, fn) {
	const buf = Buffer.alloc(65536);
	let fd, rest = '', n, first = true;

	try {
		fd = fs.openSync(path, 'r');
	} catch (e) {
		return;
	}
	try {
		while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) {
			const lines = (rest + buf.toString('latin1', 0, n))
			    .split('\n');
			rest = lines.pop();
			for (const line of lines) {
				if (first) {		// the header
					first = false;
					continue;
				}
				if (fn(line.trim().split(/\s+/)) === false)
					return;
			}
		}
	} catch (e) {
		// What was read is what there is.
	} finally {
		fs.closeSync(fd);
	}
}

// Socket inode -> address: the listening TCP sockets of this network
// namespace and, if asked, its unix sockets.  The kernel lists listening
// TCP sockets first, so the reading stops at the first that is not: a
// host with a hundred thousand connections (or TIME_WAIT sockets) costs
// nothing more.
function procSockets(unix) {
	const map = new Map();

	for (const f of ['tcp', 'tcp6'])
		procLines(`/proc/net/${f}`, (c) => {
			if (c.length < 10 || c[3] !== '0A')	/* LISTEN */
				return false;
			const [a, p] = c[1].split(':');
			map.set(c[9], { type: 'tcp', host: procAddr(a),
			    port: parseInt(p, 16) });
			return true;
		});
	if (unix)
		procLines('/proc/net/unix', (c) => {
			if (c.length >= 8 && c[7][0] === '/')
				map.set(c[6], { type: 'unix', path: c[7] });
			return true;
		});
	return map;
}

// The inherited descriptors, each with what /proc says of it.  Unix
// sockets are looked up only if some descriptor is not a listening TCP
// socket.
function inherited(n) {
	const names = (process.env.LISTEN_FDNAMES || '').split(':');
	const inodes = [];
	const list = [];
	let procmap;

	for (let i = 0; i < n; i++) {
		try {
			const m = /^socket:\[([0-9]+)\]$/.exec(
			    fs.readlinkSync(`/proc/self/fd/${3 + i}`));
			inodes.push(m ? m[1] : undefined);
		} catch (e) {
			inodes.push(undefined);
		}
	}
	procmap = procSockets(false);
	if (inodes.some((ino) => ino !== undefined && !procmap.has(ino)))
		procmap = procSockets(true);
	for (let i = 0; i < n; i++)
		list.push(Object.assign({ fd: 3 + i, name: names[i] ||
		    `fd${3 + i}`, type: 'unknown', taken: false,
		    listening: false, adopted: false },
		    inodes[i] !== undefined ? procmap.get(inodes[i]) :
		    undefined));
	return list;
}

// What a listen() call asks for: { port, host } or { path }, its backlog
// and callback; null when it passes a socket of its own or wants any
// free port, which is left to Node.
function parseListen(args) {
	const a = Array.from(args);
	const w = {};
	let a0;

	if (typeof a[a.length - 1] === 'function')
		w.cb = a.pop();
	a0 = a[0];
	if (a0 !== null && typeof a0 === 'object') {
		if (a0.fd !== undefined || a0.handle !== undefined ||
		    a0._handle !== undefined)
			return null;
		if (typeof a0.path === 'string')
			w.path = a0.path;
		else {
			w.port = a0.port;
			w.host = a0.host;
		}
		w.backlog = a0.backlog;
	} else if (typeof a0 === 'string' && !(Number(a0) >= 0)) {
		w.path = a0;
		if (typeof a[1] === 'number')
			w.backlog = a[1];
	} else {
		w.port = a0;
		if (typeof a[1] === 'string') {
			w.host = a[1];
			if (typeof a[2] === 'number')
				w.backlog = a[2];
		} else if (typeof a[1] === 'number')
			w.backlog = a[1];
	}
	if (w.path !== undefined) {
		w.path = pathmod.resolve(w.path);
		return w;
	}
	w.port = Number(w.port);
	if (!Number.isInteger(w.port) || w.port <= 0 || w.port > 65535)
		return null;
	return w;
}

// The inherited socket for w: the one with its port (or path), else the
// first one of its kind not taken yet; null if every socket for its port
// is taken, undefined if none is left at all.
function pick(w) {
	const kind = w.path !== undefined ? 'unix' : 'tcp';
	let cands;

	if (w.path !== undefined)
		cands = state.sockets.filter((s) => s.type === 'unix' &&
		    s.path === w.path);
	else
		cands = state.sockets.filter((s) => s.type === 'tcp' &&
		    s.port === w.port);
	if (cands.length === 0)
		return state.sockets.find((s) => !s.taken &&
		    (s.type === kind || s.type === 'unknown'));
	cands = cands.filter((s) => !s.taken);
	if (cands.length === 0)
		return null;
	const host = expand6(w.host);
	return cands.find((s) => expand6(s.host) === host) ||
	    cands.find((s) => s.host === '0.0.0.0' ||
	    /^[0:]+$/.test(s.host)) || cands[0];
}

function what(w) {
	return w.path !== undefined ? w.path : `port ${w.port}`;
}

function describe(s) {
	if (s.type === 'tcp')
		return s.host.includes(':') ? `[${s.host}]:${s.port}` :
		    `${s.host}:${s.port}`;
	return s.type === 'unix' ? `unix:${s.path}` : `fd ${s.fd}`;
}

// READY=1 once every inherited socket listens and this module gave at
// least one of them to the application (an application that takes them
// all itself speaks for itself).
function checkReady() {
	if (state.ready || !state.sockets.every((s) => s.listening) ||
	    !state.sockets.some((s) => s.adopted))
		return;
	state.ready = true;
	notify('READY=1');
}

// Give inherited socket s to server: track its connections and, for
// HTTP, its responses, so that a stop can close them gracefully.
function adopt(server, s) {
	const conns = new Set();
	const responses = new Set();

	s.taken = s.adopted = true;
	state.servers.push({ server, conns, responses, socket: s });
	server.once('listening', () => {
		s.listening = true;
		checkReady();
	});
	server.on('connection', (c) => {
		conns.add(c);
		c.once('close', () => conns.delete(c));
	});
	if (server instanceof http.Server || server instanceof https.Server)
		server.prependListener('request', (req, res) => {
			if (state.stopping) {
				res.shouldKeepAlive = false;
				return;
			}
			responses.add(res);
			res.once('finish', () => responses.delete(res));
			res.once('close', () => responses.delete(res));
		});
}

// An application that passes one of drover's sockets to listen({fd})
// itself keeps it, and its server counts for READY=1 like an adopted one.
function ownFd(server, a0) {
	const s = a0 !== null && typeof a0 === 'object' &&
	    state.sockets.find((x) => x.fd === a0.fd);

	if (!s)
		return;
	s.taken = true;
	server.once('listening', () => {
		s.listening = true;
		checkReady();
	});
}

// net.Server.prototype.listen, as this module replaces it.
function listen(...args) {
	const w = parseListen(args);
	let s;

	if (w === null) {
		ownFd(this, args[0]);
		return orig.apply(this, args);
	}
	s = pick(w);
	if (s === undefined) {
		if (!warned)
			warn(`listen on ${what(w)}: every socket drover ` +
			    'passed is taken; binding it here instead');
		warned = true;
		return orig.apply(this, args);
	}
	if (s === null) {
		const err = new Error('listen EADDRINUSE: every socket ' +
		    `drover passed for ${what(w)} is taken`);
		err.code = 'EADDRINUSE';
		err.syscall = 'listen';
		process.nextTick(() => this.emit('error', err));
		return this;
	}
	if (s.type !== 'unknown' && (w.path !== undefined ? s.path !== w.path :
	    s.port !== w.port))
		warn(`listen on ${what(w)}: serving drover's ${describe(s)} ` +
		    'instead');
	adopt(this, s);
	const opts = { fd: s.fd };
	if (w.backlog !== undefined)
		opts.backlog = w.backlog;
	return w.cb !== undefined ? orig.call(this, opts, w.cb) :
	    orig.call(this, opts);
}

// A graceful stop on a signal the application does not handle itself.
function onSignal(sig) {
	if (process.listenerCount(sig) > 1 || state.stopping)
		return;
	if (state.servers.length === 0) {
		// Nothing of ours to drain: die of the signal, as Node would.
		for (const g of SIGNALS)
			process.removeListener(g, onSignal);
		process.kill(process.pid, sig);
		return;
	}
	stop();
}

function stop() {
	let open = state.servers.length;

	state.stopping = true;
	notify('STOPPING=1');
	for (const e of state.servers) {
		for (const res of e.responses)
			if (!res.headersSent)
				res.shouldKeepAlive = false;
		// net.Server's close: stop accepting and call back once every
		// connection is gone.  (http.Server's own close would also
		// close idle kept-alive connections at once, when a client may
		// be sending its next request on one.)
		net.Server.prototype.close.call(e.server, () => {
			if (--open === 0)
				process.exit(0);
		});
	}
	setTimeout(() => {
		for (const e of state.servers)
			if (typeof e.server.closeIdleConnections === 'function')
				e.server.closeIdleConnections();
	}, Math.min(LINGER_MS, state.stopTimeoutMs / 2)).unref();
	setTimeout(() => {
		let n = 0;
		for (const e of state.servers)
			for (const c of e.conns) {
				c.destroy();
				n++;
			}
		warn(`stop timeout: ${n} connection${n === 1 ? '' : 's'} ` +
		    'closed');
		process.exit(0);
	}, state.stopTimeoutMs).unref();
}

const orig = net.Server.prototype.listen;

function setup() {
	const n = envInt('LISTEN_FDS');
	let t;

	if (!(n > 0) || envInt('LISTEN_PID') !== process.pid)
		return;
	state.active = true;
	state.sockets = inherited(n);
	notifyFd = envInt('DROVER_NOTIFY_FD') ?? -1;
	if ((t = process.env.NODE_DROVER_STOP_TIMEOUT) !== undefined) {
		const ms = parseDuration(t);
		if (ms === undefined)
			warn(`NODE_DROVER_STOP_TIMEOUT "${t}" is not a ` +
			    `duration; using ${DEFAULT_STOP_MS}ms`);
		else
			state.stopTimeoutMs = ms;
	}
	const first = state.sockets.find((s) => s.type === 'tcp');
	if (process.env.PORT === undefined && first !== undefined)
		process.env.PORT = String(first.port);
	net.Server.prototype.listen = listen;
	// PM2's wait_ready: process.send('ready').  Without an IPC channel
	// process.send is undefined and the call would throw; accept it.
	if (typeof process.send !== 'function')
		process.send = function send(msg, ...rest) {
			const cb = rest.find((a) => typeof a === 'function');
			if (cb !== undefined)
				process.nextTick(cb, null);
			return true;
		};
	for (const sig of SIGNALS)
		process.on(sig, onSignal);
	const wd = envInt('WATCHDOG_USEC');
	const wdpid = envInt('WATCHDOG_PID');
	if (wd > 0 && (wdpid === undefined || wdpid === process.pid))
		setInterval(() => notify('WATCHDOG=1'),
		    Math.max(1, Math.floor(wd / 2000))).unref();
}

setup();
module.exports = state;
