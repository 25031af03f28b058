// SPDX-License-Identifier: ISC
//
// Copyright (c) 2026 The drover authors.
//
// An application written for Node's cluster module, after its move to
// drover (the cluster guide of drover-migrate(7)).  One line changed:
// under drover every worker is a process of its own that drover started,
// and it must not fork a cluster of its own, so the primary's part runs
// only where DROVER_WORKER_ID is not set.  The same file still runs as a
// cluster by itself with `node cluster.js`.

'use strict';

const cluster = require('node:cluster');
const http = require('node:http');
const os = require('node:os');

if (cluster.isPrimary && process.env.DROVER_WORKER_ID === undefined) {
	for (let i = 0; i < os.availableParallelism(); i++)
		cluster.fork();
	cluster.on('exit', (worker, code, signal) => {
		console.log(`worker ${worker.process.pid} died ` +
		    `(${signal || code})`);
		cluster.fork();
	});
} else {
	http.createServer((req, res) => {
		res.end('hello from the cluster\n');
	}).listen(8000);
}
