/*
 * What waking another process costs this machine: two processes pass a
 * byte back and forth through two pipes, first free to run on any CPU
 * (so each wake-up usually crosses to the other CPU), then both pinned to
 * CPU 0 (each wake-up a switch on one CPU).  Prints the mean round trip
 * of each, in microseconds.  Every order crosses processes several times
 * (client, backend, engine, acknowledger, walsender, the standby's WAL
 * receiver), so on a host where a wake-up across CPUs is dear (a nested
 * VM whose idle CPUs halt at once: 40-50 us here, against 5 us with the
 * guest's halt polling on) that shows in every figure the bench prints.
 *
 *     wakeup_probe [round trips]        (default 20000)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void
pin(int cpu)
{
	cpu_set_t	set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
	{
		perror("sched_setaffinity");
		exit(1);
	}
}

/* Mean round trip in microseconds; both processes on cpu, or anywhere. */
static double
round_trip(int n, int cpu)
{
	int			ping[2],
				pong[2];
	char		c = 0;
	pid_t		child;
	double		t0,
				t;

	if (pipe(ping) != 0 || pipe(pong) != 0)
	{
		perror("pipe");
		exit(1);
	}
	child = fork();
	if (child < 0)
	{
		perror("fork");
		exit(1);
	}
	if (child == 0)
	{
		if (cpu >= 0)
			pin(cpu);
		for (int i = 0; i < n; i++)
			if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	if (cpu >= 0)
		pin(cpu);
	t0 = now();
	for (int i = 0; i < n; i++)
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
		{
			perror("ping");
			exit(1);
		}
	t = now() - t0;
	waitpid(child, NULL, 0);
	close(ping[0]);
	close(ping[1]);
	close(pong[0]);
	close(pong[1]);
	return t * 1e6 / n;
}

int
main(int argc, char **argv)
{
	int			n = argc > 1 ? atoi(argv[1]) : 20000;
	double		any,
				one;

	if (n <= 0)
	{
		fprintf(stderr, "usage: wakeup_probe [round trips > 0]\n");
		return 2;
	}
	any = round_trip(n, -1);
	one = round_trip(n, 0);
	printf("wakeup-probe: round_trip_us_any_cpu=%.1f round_trip_us_one_cpu=%.1f\n",
		   any, one);
	return 0;
}
