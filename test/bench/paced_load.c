/*
 * paced_load: place_order offered at a steady rate by a pool of warm
 * connections, the way a gateway sends its users' orders.
 *
 *   paced_load CONNINFO RATE SECONDS CONNECTIONS ACCT_MIN ACCT_MAX LOGFILE
 *
 * Orders arrive as a Poisson process at RATE a second, whoever sent them,
 * and wait in one queue for the first free connection; an order's latency
 * runs from its arrival to its answer, so time spent queued behind busy
 * connections counts (as with pgbench -R).  The orders are the bench's
 * plain load (test/bench/run.sh, order_load): a random account, one of
 * the four markets, either side, 1..10 lots at the market's mid +-50
 * ticks, bound as parameters of one prepared statement.
 *
 * What pgbench -R cannot do and this does: the connections are opened,
 * prepared and warmed (20 calls each, then 2 s of the paced load) before
 * the measured SECONDS start, and the load goes on until every measured
 * order has its answer, so no connection starts or ends inside the
 * measured window.  (With pgbench, 32 new backends making their first
 * calls at once, and closing together at the end, made the slowest
 * seconds of most paced runs: docs/performance.md.)  It is also one
 * thread, which costs this machine less CPU per call than pgbench's
 * per-client timers and per-call log lines.
 *
 * Writes LOGFILE in pgbench's per-transaction log format (client,
 * transaction, latency us, script 0, epoch seconds, microseconds) for the
 * measured orders only, and on stdout pgbench's "tps = N (without initial
 * connection time)" line, then one "paced:" summary line and one
 * "paced-split:" line (how late this process saw measured orders
 * arrive, how long they then waited for a free connection, and how long
 * their connections took from send to answer).  Exits non-zero on any failed call.  With PACED_LOAD_ALL=FILE in the environment it also
 * writes every answer, warm-up and drain included, to FILE: seconds since
 * the paced load began, latency in us, and 1 for a measured order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#define WARM_CALLS 20
#define WARM_SECONDS 2.0
#define MAX_CONNS 256

struct market
{
	const char *symbol;
	long		mid_ticks;
	int			tick_decimals;	/* tick = 10^-tick_decimals */
	int			lot_decimals;	/* lot = 10^-lot_decimals */
};

/* the bench's MARKETS (test/bench/run.sh) */
static const struct market markets[] = {
	{"BTC-USDT", 6000000, 2, 4},
	{"ETH-USDT", 300000, 2, 3},
	{"SOL-USDT", 150000, 3, 2},
	{"XRP-USDT", 6000, 4, 0},
};

struct order
{
	double		arrival;		/* seconds since the start */
	double		noticed;		/* when this process queued it */
	double		sent;			/* when a connection took it */
	int			measured;
};

struct conn
{
	PGconn	   *pg;
	int			busy;
	struct order order;
	long		calls;
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t
rng_next(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static double
rng_unit(void)				/* (0, 1] */
{
	return ((rng_next() >> 11) + 1) * (1.0 / 9007199254740992.0);
}

static long
rng_range(long lo, long hi)
{
	return lo + (long) (rng_next() % (uint64_t) (hi - lo + 1));
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* N * 10^-DECIMALS as a decimal literal */
static void
decimal_text(char *buf, size_t len, long n, int decimals)
{
	long		scale = 1;

	for (int i = 0; i < decimals; i++)
		scale *= 10;
	if (decimals == 0)
		snprintf(buf, len, "%ld", n);
	else
		snprintf(buf, len, "%ld.%0*ld", n / scale, decimals, n % scale);
}

static void
die_conn(PGconn *pg, const char *what)
{
	fprintf(stderr, "paced_load: %s: %s", what, PQerrorMessage(pg));
	exit(1);
}

static long acct_min,
			acct_max;

/* send one order on C (asynchronously) */
static void
send_order(struct conn *c)
{
	const struct market *m = &markets[rng_range(0, 3)];
	char		acct[24],
				qty[32],
				price[32];
	const char *params[5];

	snprintf(acct, sizeof(acct), "%ld", rng_range(acct_min, acct_max));
	decimal_text(qty, sizeof(qty), rng_range(1, 10), m->lot_decimals);
	decimal_text(price, sizeof(price), m->mid_ticks + rng_range(-50, 50),
				 m->tick_decimals);
	params[0] = acct;
	params[1] = m->symbol;
	params[2] = rng_range(0, 1) ? "buy" : "sell";
	params[3] = qty;
	params[4] = price;
	if (!PQsendQueryPrepared(c->pg, "order", 5, params, NULL, NULL, 0))
		die_conn(c->pg, "send");
	if (PQflush(c->pg) < 0)
		die_conn(c->pg, "flush");
	c->busy = 1;
}

/* read what has arrived on C; 1 when its call is complete */
static int
read_answer(struct conn *c)
{
	PGresult   *res;

	if (!PQconsumeInput(c->pg))
		die_conn(c->pg, "read");
	while (!PQisBusy(c->pg))
	{
		res = PQgetResult(c->pg);
		if (res == NULL)
		{
			c->busy = 0;
			c->calls++;
			return 1;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		{
			fprintf(stderr, "paced_load: place_order failed: %s",
					PQresultErrorMessage(res));
			exit(1);
		}
		PQclear(res);
	}
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
at(const double *v, long n, double p)
{
	long		i = (long) ceil(p * n);

	if (i < 1)
		i = 1;
	return v[i - 1];
}

int
main(int argc, char **argv)
{
	const char *conninfo;
	double		rate,
				seconds;
	int			nconn;
	FILE	   *txlog;
	FILE	   *alllog = NULL;
	struct conn conns[MAX_CONNS];
	struct epoll_event events[MAX_CONNS];
	int			ep;
	struct order *queue;
	long		qcap,
				qhead = 0,
				qtail = 0;
	double	   *lat,
			   *late,
			   *waited,
			   *trip;
	long		nlat = 0,
				latcap;
	char	   *txlog_buf;
	size_t		txlog_size;
	long		measured_open = 0;
	double		t0,
				next_arrival,
				measure_from,
				measure_to;
	struct timespec wall0;
	double		wall_at_t0;

	if (argc != 8)
	{
		fprintf(stderr, "usage: paced_load CONNINFO RATE SECONDS CONNECTIONS ACCT_MIN ACCT_MAX LOGFILE\n");
		return 2;
	}
	conninfo = argv[1];
	rate = atof(argv[2]);
	seconds = atof(argv[3]);
	nconn = atoi(argv[4]);
	acct_min = atol(argv[5]);
	acct_max = atol(argv[6]);
	if (rate <= 0 || seconds <= 0 || nconn < 1 || nconn > MAX_CONNS ||
		acct_max < acct_min)
	{
		fprintf(stderr, "paced_load: bad arguments\n");
		return 2;
	}
	if (getenv("PACED_LOAD_ALL") != NULL)
	{
		alllog = fopen(getenv("PACED_LOAD_ALL"), "w");
		if (alllog == NULL)
		{
			perror(getenv("PACED_LOAD_ALL"));
			return 1;
		}
	}
	txlog = fopen(argv[7], "w");
	if (txlog == NULL)
	{
		perror(argv[7]);
		return 1;
	}

	/* open, prepare and warm every connection */
	for (int i = 0; i < nconn; i++)
	{
		PGresult   *res;

		conns[i].pg = PQconnectdb(conninfo);
		if (PQstatus(conns[i].pg) != CONNECTION_OK)
			die_conn(conns[i].pg, "connect");
		res = PQprepare(conns[i].pg, "order",
						"SELECT * FROM exchange.place_order($1, $2, $3, $4, $5)",
						0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die_conn(conns[i].pg, "prepare");
		PQclear(res);
		conns[i].busy = 0;
		conns[i].calls = 0;
		for (int k = 0; k < WARM_CALLS; k++)
		{
			send_order(&conns[i]);
			while (!read_answer(&conns[i]))
			{
				struct pollfd one = {PQsocket(conns[i].pg), POLLIN, 0};

				poll(&one, 1, -1);
			}
		}
		if (PQsetnonblocking(conns[i].pg, 1) != 0)
			die_conn(conns[i].pg, "nonblocking");
	}
	/* one epoll set for all the sockets: poll() over 32 of them at every
	 * wake-up cost this driver about as much CPU per call as pgbench */
	ep = epoll_create1(0);
	if (ep < 0)
	{
		perror("epoll_create1");
		return 1;
	}
	for (int i = 0; i < nconn; i++)
	{
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};

		if (epoll_ctl(ep, EPOLL_CTL_ADD, PQsocket(conns[i].pg), &ev) < 0)
		{
			perror("epoll_ctl");
			return 1;
		}
	}

	qcap = (long) (rate * (seconds + WARM_SECONDS + 60)) + 1024;
	queue = malloc(sizeof(*queue) * qcap);
	latcap = (long) (rate * seconds * 2) + 1024;
	lat = malloc(sizeof(*lat) * latcap);
	late = malloc(sizeof(*late) * latcap);
	waited = malloc(sizeof(*waited) * latcap);
	trip = malloc(sizeof(*trip) * latcap);
	/*
	 * The log's lines stay in memory until the end: written as they come,
	 * they were dirty page cache that the kernel wrote back in one piece
	 * 30 s later, in the middle of a long run, beside the servers' WAL
	 * flushes.
	 */
	txlog_size = (size_t) latcap * 48;
	txlog_buf = malloc(txlog_size);
	if (queue == NULL || lat == NULL || late == NULL || waited == NULL ||
		trip == NULL ||
		txlog_buf == NULL ||
		setvbuf(txlog, txlog_buf, _IOFBF, txlog_size) != 0)
	{
		fprintf(stderr, "paced_load: out of memory\n");
		return 1;
	}

	t0 = now_s();
	clock_gettime(CLOCK_REALTIME, &wall0);
	wall_at_t0 = wall0.tv_sec + wall0.tv_nsec * 1e-9;
	measure_from = WARM_SECONDS;
	measure_to = WARM_SECONDS + seconds;
	next_arrival = -log(rng_unit()) / rate;

	for (;;)
	{
		double		t = now_s() - t0;
		int			n;
		int			timeout_ns;
		struct timespec ts;

		/* the orders that have arrived by now join the queue */
		while (next_arrival <= t)
		{
			if (qtail - qhead >= qcap)
			{
				fprintf(stderr, "paced_load: %ld orders queued: the server is not keeping up\n",
						qtail - qhead);
				return 1;
			}
			queue[qtail % qcap].arrival = next_arrival;
			queue[qtail % qcap].noticed = t;
			queue[qtail % qcap].measured = next_arrival >= measure_from &&
				next_arrival < measure_to;
			if (queue[qtail % qcap].measured)
				measured_open++;
			qtail++;
			next_arrival += -log(rng_unit()) / rate;
		}
		/* done: the measured window is over and all its orders answered */
		if (next_arrival >= measure_to && measured_open == 0)
			break;
		/* free connections take the oldest queued orders */
		for (int i = 0; i < nconn && qhead < qtail; i++)
		{
			if (conns[i].busy)
				continue;
			conns[i].order = queue[qhead % qcap];
			qhead++;
			conns[i].order.sent = now_s() - t0;
			send_order(&conns[i]);
		}
		timeout_ns = (int) fmin(1e8, fmax(0, (next_arrival - (now_s() - t0)) * 1e9));
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		n = epoll_pwait2(ep, events, MAX_CONNS, &ts, NULL);
		if (n < 0 && errno != EINTR)
		{
			perror("epoll_pwait2");
			return 1;
		}
		for (int k = 0; k < n; k++)
		{
			int			ci = events[k].data.u32;
			struct conn *c = &conns[ci];

			if (!c->busy)
				continue;
			if (!read_answer(c))
				continue;
			if (alllog != NULL)
			{
				double		done = now_s() - t0;

				/* every answer, warm-up and drain too: seconds since the
				 * load began, latency us, measured (1) or not */
				fprintf(alllog, "%.4f %.0f %d\n", done,
						(done - c->order.arrival) * 1e6, c->order.measured);
			}
			if (c->order.measured)
			{
				double		done = now_s() - t0;
				double		us = (done - c->order.arrival) * 1e6;
				double		wall = wall_at_t0 + done;

				if (nlat < latcap)
				{
					late[nlat] = (c->order.noticed - c->order.arrival) * 1e6;
					waited[nlat] = (c->order.sent - c->order.noticed) * 1e6;
					trip[nlat] = (done - c->order.sent) * 1e6;
					lat[nlat++] = us;
				}
				measured_open--;
				fprintf(txlog, "%d %ld %.0f 0 %ld %06ld\n", ci,
						c->calls, us, (long) wall,
						(long) ((wall - floor(wall)) * 1e6));
			}
		}
	}

	/* let the calls still out finish before the connections close */
	for (int i = 0; i < nconn; i++)
	{
		while (conns[i].busy && !read_answer(&conns[i]))
		{
			struct pollfd one = {PQsocket(conns[i].pg), POLLIN, 0};

			poll(&one, 1, -1);
		}
		PQfinish(conns[i].pg);
	}
	fclose(txlog);
	if (alllog != NULL)
		fclose(alllog);

	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("tps = %.6f (without initial connection time)\n", nlat / seconds);
	printf("paced: offered=%.0f connections=%d seconds=%.0f measured_calls=%ld "
		   "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
		   rate, nconn, seconds, nlat,
		   nlat ? at(lat, nlat, 0.50) / 1000 : NAN,
		   nlat ? at(lat, nlat, 0.99) / 1000 : NAN,
		   nlat ? at(lat, nlat, 0.999) / 1000 : NAN,
		   nlat ? lat[nlat - 1] / 1000 : NAN);

	/*
	 * Where a measured order's time went: from its arrival until this
	 * process saw it arrive (late: this process asleep past its timer, or
	 * waiting for a CPU, or busy reading answers), then queued here for a
	 * free connection (the pool was all busy), then on its connection,
	 * from sending it to reading its answer (the server's call, the
	 * network, and this process's own turn on a CPU to read it).
	 */
	qsort(late, nlat, sizeof(*late), cmp_double);
	qsort(waited, nlat, sizeof(*waited), cmp_double);
	qsort(trip, nlat, sizeof(*trip), cmp_double);
	printf("paced-split: late p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
		   "pool_wait p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
		   "round_trip p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
		   nlat ? at(late, nlat, 0.50) / 1000 : NAN,
		   nlat ? at(late, nlat, 0.99) / 1000 : NAN,
		   nlat ? late[nlat - 1] / 1000 : NAN,
		   nlat ? at(waited, nlat, 0.50) / 1000 : NAN,
		   nlat ? at(waited, nlat, 0.99) / 1000 : NAN,
		   nlat ? waited[nlat - 1] / 1000 : NAN,
		   nlat ? at(trip, nlat, 0.50) / 1000 : NAN,
		   nlat ? at(trip, nlat, 0.99) / 1000 : NAN,
		   nlat ? trip[nlat - 1] / 1000 : NAN);
	return 0;
}
