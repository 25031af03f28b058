// SPDX-License-Identifier: ISC
//
// Copyright (c) 2026 The drover authors.
//
// The PM2 configuration of server.js, before the move to drover: the
// starting point of the PM2 guide in drover-migrate(7).  ../shop.conf
// is the same service under drover.

module.exports = {
	apps: [{
		name: 'shop',
		script: 'server.js',
		cwd: '/srv/shop',
		instances: 'max',
		exec_mode: 'cluster',
		env: {
			NODE_ENV: 'production',
			PORT: 3000,
		},
		wait_ready: true,
		listen_timeout: 10000,
		kill_timeout: 5000,
		min_uptime: 5000,
		max_restarts: 10,
		restart_delay: 100,
		exp_backoff_restart_delay: 100,
		node_args: '--max-old-space-size=512',
		uid: 'shop',
		gid: 'shop',
	}],
};
