// SPDX-License-Identifier: ISC
//
// Copyright (c) 2026 The drover authors.
//
// bench/cluster.js: the Node.js cluster primary of bench/compare.  It
// forks WORKERS (2) workers of bench/app.js with the scheduling policy
// Node reads from NODE_CLUSTER_SCHED_POLICY (rr: the primary accepts and
// hands each connection to a worker; none: the workers accept on the
// shared socket), and forks a new one when a worker dies unexpectedly.
//
// The cluster module has no reload of its own.  What its users write is
// the recipe of Node's documentation, and that is what SIGHUP does here,
// so that the reload figures show what a cluster application gets
// rather than "n/a": fork WORKERS new workers, wait until every one of
// them listens, then disconnect() each old one (it stops accepting and
// closes its idle connections) and kill it if it is still alive after
// KILL_MS.  A SIGHUP that arrives during a reload runs one more reload
// once this one is over.  SIGTERM and SIGINT are not handled: the
// primary dies at once and its workers exit when their channel closes.

'use strict';

const cluster = require('cluster');
const path = require('path');

const WORKERS = Number(process.env.WORKERS) || 2;
const KILL_MS = 2000;

let reloading = false;
let again = false;

cluster.setupPrimary({ exec: path.join(__dirname, 'app.js') });
for (let i = 0; i < WORKERS; i++)
	cluster.fork();

cluster.on('exit', (worker) => {
	if (!worker.exitedAfterDisconnect)
		cluster.fork();
});

function retire(old) {
	let left = old.length;

	if (left === 0)
		reloading = false;
	for (const w of old) {
		const timer = setTimeout(() => w.process.kill('SIGKILL'), KILL_MS);

		w.once('exit', () => {
			clearTimeout(timer);
			if (--left > 0)
				return;
			reloading = false;
			if (again) {
				again = false;
				reload();
			}
		});
		w.disconnect();
	}
}

function reload() {
	const old = Object.values(cluster.workers);
	let up = 0;

	if (reloading) {
		again = true;
		return;
	}
	reloading = true;
	for (let i = 0; i < WORKERS; i++) {
		cluster.fork().once('listening', () => {
			if (++up === WORKERS)
				retire(old);
		});
	}
}

process.on('SIGHUP', reload);
